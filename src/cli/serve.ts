import { ConfigError } from '../config/load.ts';
import { createLogger } from '../logger.ts';
import { startRegistry, type RunningRegistry } from '../server.ts';
import { describeStartupFailure } from '../startup-error.ts';
import { configPath, EXIT_FAILURE, EXIT_USAGE, loadConfigOrReport } from './config-file.ts';
import { SERVE_HELP } from './help.ts';
import { parseCommand } from './usage.ts';

/**
 * `dockyard serve [config.yml]`: config -> construct -> listen; SIGTERM/SIGINT -> drain -> exit 0.
 * Resolves with an exit status when the start fails (or for --help), and with undefined once the
 * registry is serving: the process then lives until a signal stops it.
 */
export async function serve(args: string[]): Promise<number | undefined> {
  const { values, positionals } = parseCommand('serve', args, {}, 1);
  if (values.help) {
    process.stdout.write(SERVE_HELP);
    return 0;
  }
  const loaded = loadConfigOrReport(configPath(positionals[0]));
  if (!loaded) return EXIT_USAGE;
  const logger = createLogger(loaded.config.log);
  for (const warning of loaded.warnings) logger.warn(warning);

  // Listening before start-up ends: a signal while it runs (the port may already answer) stops
  // the registry as soon as it is up, rather than killing the process half-started.
  let running: RunningRegistry | undefined;
  let requested: NodeJS.Signals | undefined;
  let closing = false;
  const stop = (signal: NodeJS.Signals) => {
    if (closing && running) {
      // A second signal: the operator will not wait for the drain.
      logger.warn({ signal }, 'stopping now: cutting the connections still open');
      running.server.closeAllConnections();
      return;
    }
    requested ??= signal;
    if (!running) return;
    closing = true;
    const started = Date.now();
    logger.info({ signal, draintimeoutMs: loaded.config.http.draintimeout }, 'shutting down');
    running.close().then(
      () => {
        logger.info({ ms: Date.now() - started }, 'stopped');
        process.exit(0);
      },
      (err: unknown) => {
        logger.error({ err }, 'shutdown failed');
        process.exit(EXIT_FAILURE);
      },
    );
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);

  try {
    running = await startRegistry(loaded.config, logger);
  } catch (err) {
    // One line for the operator; the stack only for whoever runs with log.level: debug.
    logger.debug({ err }, 'start-up failed');
    process.stderr.write(`dockyard: cannot start: ${describeStartupFailure(err)}\n`);
    return err instanceof ConfigError ? EXIT_USAGE : EXIT_FAILURE;
  }
  if (requested) stop(requested);
  return undefined;
}
