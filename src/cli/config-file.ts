import { ConfigError, loadConfig, type LoadedConfig } from '../config/load.ts';

/** Exit status of a configuration that does not load, or of a command line that does not parse. */
export const EXIT_USAGE = 2;
/** Exit status of a start (or a collection) that failed for another reason. */
export const EXIT_FAILURE = 1;

/** The operand, else REGISTRY_CONFIGURATION_PATH (as Distribution reads it), else none: the defaults. */
export function configPath(operand: string | undefined, env: NodeJS.ProcessEnv = process.env): string | undefined {
  return operand ?? (env.REGISTRY_CONFIGURATION_PATH || undefined);
}

/** The loaded configuration, or a one-line `dockyard: ...` on stderr and null. */
export function loadConfigOrReport(path: string | undefined): LoadedConfig | null {
  try {
    return loadConfig(path);
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    process.stderr.write(`dockyard: ${err.message}\n`);
    return null;
  }
}
