import { stat } from 'node:fs/promises';
import { storageOptions } from '../config/storage.ts';
import type { Config } from '../config/schema.ts';
import { createLogger } from '../logger.ts';
import { describeStartupFailure } from '../startup-error.ts';
import type { StorageDriver } from '../storage/driver.ts';
import { FilesystemDriver } from '../storage/filesystem-driver.ts';
import { collectGarbage, type GcReport } from '../storage/gc/garbage-collector.ts';
import { StorageRegistry } from '../storage/storage-registry.ts';
import { configPath, EXIT_FAILURE, EXIT_USAGE, loadConfigOrReport } from './config-file.ts';
import { GC_HELP } from './help.ts';
import { parseCommand } from './usage.ts';

/**
 * `dockyard gc [--dry-run] [--delete-untagged] [config.yml]` (Distribution's `garbage-collect`
 * flags): one collection of the configured storage from this process, safe beside a registry
 * serving the same storage (the collector's grace period, storage.gc.delay, and its re-marks).
 * Its deletions are not notified: this process has no outbox of its own; the online collection
 * (storage.gc.enabled) of a serving registry emits them.
 */
export async function gc(args: string[]): Promise<number> {
  const { values, positionals } = parseCommand(
    'gc',
    args,
    {
      'dry-run': { type: 'boolean', short: 'd', default: false },
      'delete-untagged': { type: 'boolean', short: 'm', default: false },
    },
    1,
  );
  if (values.help) {
    process.stdout.write(GC_HELP);
    return 0;
  }
  const loaded = loadConfigOrReport(configPath(positionals[0]));
  if (!loaded) return EXIT_USAGE;
  const { config } = loaded;
  const logger = createLogger(config.log);
  for (const warning of loaded.warnings) logger.warn(warning);
  if (config.notifications.endpoints.length > 0) {
    logger.warn('dockyard gc does not notify its deletions (no outbox in this process); storage.gc.enabled on the registry does');
  }
  let report: GcReport;
  try {
    const registry = new StorageRegistry(await openDriver(config));
    report = await collectGarbage(
      registry,
      { dryRun: values['dry-run'] === true, deleteUntagged: values['delete-untagged'] === true, delayMs: config.storage.gc.delay },
      logger,
    );
  } catch (err) {
    logger.debug({ err }, 'gc failed');
    process.stderr.write(`dockyard gc: ${describeStartupFailure(err)}\n`);
    return EXIT_FAILURE;
  }
  process.stdout.write(`${summary(report)}\n`);
  return 0;
}

/** The storage as it is: no temp sweep and no layout migration (a registry may be serving it). */
async function openDriver(config: Config): Promise<StorageDriver> {
  const storage = storageOptions(config.storage);
  if (storage.kind === 'filesystem') {
    const found = await stat(storage.rootDirectory).catch(() => null);
    if (!found?.isDirectory()) throw new Error(`the storage root ${storage.rootDirectory} is not a directory: nothing to collect`);
    return new FilesystemDriver(storage.rootDirectory, { fsync: storage.fsync });
  }
  const { S3Driver } = await import('../storage/s3/s3-driver.ts');
  const driver = new S3Driver(storage.s3);
  await driver.check();
  return driver;
}

function summary(r: GcReport): string {
  const verb = r.dryRun ? 'would remove' : 'removed';
  return (
    `${r.dryRun ? 'dry run: ' : ''}${verb} ${r.blobsRemoved} blob(s) (${r.bytesFreed} bytes), ${r.manifestsRemoved} manifest(s), ` +
    `${r.layerLinksRemoved} layer link(s), ${r.repositoriesRemoved} repository(ies); kept ${r.kept.young} younger than storage.gc.delay ` +
    `and ${r.kept.reclaimedByPush} reclaimed by a push; ${r.repositories} repositories, ${r.blobsSeen} blobs seen, ${r.durationMs} ms`
  );
}
