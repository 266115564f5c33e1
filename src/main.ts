import { ConfigError, loadConfig } from './config/load.ts';
import { createLogger } from './logger.ts';
import { startRegistry } from './server.ts';

/** `npm start -- [config.yml]`: config -> construct -> listen; SIGTERM/SIGINT -> drain -> exit. */
async function main(): Promise<void> {
  const configPath = process.argv[2] ?? process.env.REGISTRY_CONFIGURATION_PATH;
  let loaded;
  try {
    loaded = loadConfig(configPath);
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`dockyard: ${err.message}\n`);
      process.exit(2);
    }
    throw err;
  }
  const logger = createLogger(loaded.config.log);
  for (const warning of loaded.warnings) logger.warn(warning);

  let running;
  try {
    running = await startRegistry(loaded.config, logger);
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`dockyard: ${err.message}\n`);
      process.exit(2);
    }
    throw err;
  }
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'shutting down');
    running.close().then(
      () => process.exit(0),
      (err: unknown) => {
        logger.error({ err }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
}

main().catch((err: unknown) => {
  process.stderr.write(`dockyard: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
