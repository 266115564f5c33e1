import { stat } from 'node:fs/promises';
import { hostname } from 'node:os';
import * as path from 'node:path';
import type { Logger } from 'pino';
import { Registry as MetricsRegistry } from 'prom-client';
import { parseListenAddress } from '../config/listen-address.ts';
import { notifyOptions, parseEndpoint } from '../config/notifications.ts';
import { needsNotificationThreads } from '../notify/needs-threads.ts';
import { internalContext } from '../notify/events/internal-context.ts';
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
 * With notification endpoints configured, its deletions are queued as events in the configured
 * outbox as a guest (NotifyOptions.deliver false): the registry serving that outbox delivers them
 * (at once beside it, or when it next starts), so no deletion goes without its event.
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
  let report: GcReport;
  let notifier: GuestNotifier | null = null;
  try {
    const registry = new StorageRegistry(await openDriver(config));
    notifier = await guestNotifier(config, registry, logger);
    const ctx = internalContext('gc', baseUrlOf(config));
    const queued = notifier;
    report = await collectGarbage(
      registry,
      { dryRun: values['dry-run'] === true, deleteUntagged: values['delete-untagged'] === true, delayMs: config.storage.gc.delay },
      logger,
      queued ? { listen: (repo) => queued.listen(repo, ctx) } : undefined,
    );
    await notifier?.close(); // every event committed to the outbox before the summary
  } catch (err) {
    await notifier?.close().catch(() => undefined);
    logger.debug({ err }, 'gc failed');
    process.stderr.write(`dockyard gc: ${describeStartupFailure(err)}\n`);
    return EXIT_FAILURE;
  }
  process.stdout.write(`${summary(report)}\n`);
  return 0;
}

type GuestNotifier = Awaited<ReturnType<typeof guestNotifier>>;

/**
 * With endpoints (configured, or created at runtime and stored in the outbox): a notifier that
 * queues this process's events in the configured outbox and delivers none.
 */
async function guestNotifier(config: Config, registry: StorageRegistry, logger: Logger) {
  const storage = storageOptions(config.storage);
  const storageRoot = storage.kind === 'filesystem' ? storage.rootDirectory : path.resolve('./data');
  const durable = storage.kind === 'filesystem' ? storage.fsync : true;
  const options = notifyOptions(config.notifications, { storageRoot, durable, deliver: false });
  if (!(await needsNotificationThreads(options))) return null;
  const { ThreadedNotifier } = await import('../notify/threaded-notifier.ts');
  const notifier = new ThreadedNotifier(
    options,
    { sourceAddr: () => `${hostname()}:gc`, metrics: new MetricsRegistry(), repositories: (name) => registry.repository(name), parseEndpoint },
    logger,
  );
  await notifier.ready;
  return notifier;
}

/** Where the events' target URLs point: the registry's public address. */
function baseUrlOf(config: Config): string {
  if (config.http.host) return config.http.host.replace(/\/$/, '');
  const { host, port } = parseListenAddress(config.http.addr);
  return `${config.http.tls ? 'https' : 'http'}://${host ?? '127.0.0.1'}:${port}`;
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
