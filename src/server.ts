import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import { createServer as createHttpsServer, type Server as HttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { hostname } from 'node:os';
import * as path from 'node:path';
import type { Logger } from 'pino';
import { Registry as MetricsRegistry, collectDefaultMetrics } from 'prom-client';
import { createApp } from './api/app.ts';
import { ClientAddress } from './api/client-address.ts';
import { HttpMetrics } from './api/http-metrics.ts';
import { createGuards } from './api/guards.ts';
import { setUpAuth } from './auth/setup.ts';
import { parseListenAddress } from './config/listen-address.ts';
import { ConfigError } from './config/load.ts';
import { notifyOptions, parseEndpoint } from './config/notifications.ts';
import { needsNotificationThreads } from './notify/needs-threads.ts';
import { manifestCacheOptions, storageOptions, type StorageOptions } from './config/storage.ts';
import { uiOptions } from './config/ui.ts';
import type { Config } from './config/schema.ts';
import { startDebugServer } from './debug-server.ts';
import type { NotificationAdmin } from './notify/admin.ts';
import { LazyNotifier } from './notify/lazy-notifier.ts';
import { NoopNotifier, type Notifier } from './notify/notifier.ts';
import type { StorageDriver } from './storage/driver.ts';
import { FilesystemDriver } from './storage/filesystem-driver.ts';
import { MeteredDriver, storageActionSeconds } from './storage/metered-driver.ts';
import { migrateLayout } from './storage/layout-migration.ts';
import { StorageRegistry } from './storage/storage-registry.ts';
import { purgeUploads } from './storage/upload-purger.ts';
import { storageHealth } from './storage-health.ts';
import { tlsServerOptions } from './tls-options.ts';
import { describeStartupFailure, probeWritable, StartupError, systemErrorCode } from './startup-error.ts';
import { scheduleGarbageCollection } from './storage/gc/gc-schedule.ts';
import type { GcOptions, GcReport } from './storage/gc/garbage-collector.ts';
import { internalContext } from './notify/events/internal-context.ts';

export interface RunningRegistry {
  server: Server | HttpsServer;
  /** `http://host:port` the server listens on (`https://` with `http.tls`). */
  url: string;
  port: number;
  registry: StorageRegistry;
  metrics: MetricsRegistry;
  /** The debug server's port (metrics), when `http.debug.addr` is set. */
  debugPort?: number;
  /** One garbage collection now, in this process, its deletions reported as events (actor.internal "gc"). */
  collectGarbage(options: GcOptions): Promise<GcReport>;
  close(): Promise<void>;
}

/**
 * Constructs everything from a validated config and starts listening: the one place where
 * drivers are chosen and the pieces are wired together.
 */
export async function startRegistry(config: Config, logger: Logger): Promise<RunningRegistry> {
  const { host, port: wantedPort } = parseListenAddress(config.http.addr);
  let port = wantedPort; // the real one (for port 0) once listening; events name it in source.addr
  // Read first: a certificate or key that does not load stops the start before anything else runs.
  const tls = config.http.tls ? tlsServerOptions(config.http.tls) : undefined;
  const readOnly = config.storage.maintenance.readonly.enabled;

  const storage = storageOptions(config.storage);
  const metrics = new MetricsRegistry();
  const opened = await openStorage(storage, logger, readOnly);
  const { stateDir } = opened;
  const driver = new MeteredDriver(opened.driver, storageActionSeconds(metrics));
  const registry = new StorageRegistry(driver, manifestCacheOptions(config.storage.cache));
  const health = storageHealth(driver, readOnly, config.health.storagedriver, logger);
  // Before anything starts: a missing htpasswd file or bad certificate bundle stops the start here.
  const auth = await setUpAuth(config.auth, {
    storageRoot: stateDir,
    allowRemoteAdmin: config.notifications.admin.allowremote,
  });
  const durable = storage.kind === 'filesystem' ? storage.fsync : true;
  const notify = notifyOptions(config.notifications, { storageRoot: stateDir, durable });
  // Loaded only when used: the delivery machinery (SQLite, undici) costs memory a registry
  // without endpoints should not pay; the first runtime endpoint created starts it (LazyNotifier).
  const startThreaded = async (): Promise<Notifier & NotificationAdmin> => {
    if (!notify.outbox.postgres) await probeWritable(path.dirname(notify.outbox.file), 'the outbox directory');
    const { ThreadedNotifier } = await import('./notify/threaded-notifier.ts');
    let threaded: InstanceType<typeof ThreadedNotifier>;
    try {
      threaded = new ThreadedNotifier(
        notify,
        {
          sourceAddr: () => `${hostname()}:${port}`,
          metrics,
          repositories: (name) => registry.repository(name),
          parseEndpoint,
        },
        logger,
      );
      await threaded.ready; // delivering (and redelivering what a crash left) before the first request
    } catch (err) {
      // The PostgreSQL outbox's errors name it; SQLite's ("attempt to write a readonly database") do not.
      const why = describeStartupFailure(err);
      throw new StartupError(notify.outbox.postgres ? why : `notifications cannot start with the outbox ${path.resolve(notify.outbox.file)}: ${why}`, { cause: err });
    }
    return threaded;
  };
  const needed = await needsNotificationThreads(notify);
  const notifier = new LazyNotifier(startThreaded, needed ? await startThreaded() : new NoopNotifier());
  let selfUrl = ''; // known once listening

  const app = createApp(
    {
      registry,
      repository: (name, ctx) => notifier.listen(registry.repository(name), ctx),
      deleteEnabled: config.storage.delete.enabled,
      readOnly,
      redirect: !config.storage.redirect.disable,
      storageProblem: () => health.problem(),
      externalBaseUrl: config.http.host,
      notifications: notifier,
      selfUrl: () => selfUrl,
      guards: createGuards(auth.access),
      tokenService: auth.tokenService,
      ui: uiOptions(config.ui, { stateDir }),
    },
    {
      headers: config.http.headers,
      clients: new ClientAddress(config.http.trustedproxies),
      accessLog: !config.log.accesslog.disabled,
      metrics: new HttpMetrics(metrics),
    },
    logger,
  );
  // HTTP/1.1 over TLS with http.tls (no ALPN h2: Distribution's http2 key is not implemented).
  const server = tls ? createHttpsServer({ ...tls, keepAliveTimeout: 65_000 }, app) : createServer({ keepAliveTimeout: 65_000 }, app);
  server.listen(wantedPort, host ?? '::');
  try {
    await once(server, 'listening');
  } catch (err) {
    await notifier.close();
    const code = systemErrorCode(err);
    const why = code === 'EADDRINUSE' ? 'the port is in use' : code === 'EACCES' ? 'permission denied (a port below 1024 needs privileges)' : (err as Error).message;
    throw new StartupError(`http.addr ${config.http.addr}: cannot listen: ${why}${code ? ` (${code})` : ''}`, { cause: err });
  }
  const address = server.address() as AddressInfo;
  port = address.port;

  const purging = config.storage.maintenance.uploadpurging;
  // Read-only (an offline collection may be running): nothing writes, not even the purger.
  const purgeTimer = purging.enabled && !readOnly
    ? setInterval(() => {
        purgeUploads(registry, { ageMs: purging.age, dryRun: purging.dryrun }, logger).catch((err: unknown) =>
          logger.error({ err }, 'upload purge failed'),
        );
      }, purging.interval).unref()
    : undefined;
  // Read-only (an offline collection may be running): no online collection either.
  const gcConfig = config.storage.gc;
  const gc = scheduleGarbageCollection(
    registry,
    { enabled: gcConfig.enabled && !readOnly, intervalMs: gcConfig.interval, delayMs: gcConfig.delay, deleteUntagged: gcConfig.deleteuntagged },
    () => {
      const ctx = internalContext('gc', `${tls ? 'https' : 'http'}://127.0.0.1:${port}`);
      return (repo) => notifier.listen(repo, ctx);
    },
    logger,
  );

  const debugConfig = config.http.debug;
  let debug: Awaited<ReturnType<typeof startDebugServer>> | undefined;
  if (debugConfig.addr) {
    if (debugConfig.prometheus.enabled) collectDefaultMetrics({ register: metrics });
    const path = debugConfig.prometheus.enabled ? debugConfig.prometheus.path : null;
    debug = await startDebugServer(debugConfig.addr, path, metrics);
  }

  const shownHost = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  const url = `${tls ? 'https' : 'http'}://${host === undefined ? '127.0.0.1' : shownHost}:${port}`;
  selfUrl = url;
  logger.info(
    {
      addr: config.http.addr,
      url,
      storage: driver.name,
      ...(storage.kind === 'filesystem' ? { root: stateDir } : { bucket: storage.s3.bucket, rootdirectory: storage.s3.rootDirectory }),
      auth: config.auth?.htpasswd ? 'htpasswd' : config.auth?.token ? (auth.tokenService ? 'token+tokenservice' : 'token') : 'none',
      endpoints: notify.endpoints.map((e) => e.name),
    },
    'dockyard listening',
  );

  return {
    server,
    url,
    port,
    registry,
    metrics,
    ...(debug ? { debugPort: debug.port } : {}),
    collectGarbage: (options) => gc.run(options),
    async close() {
      clearInterval(purgeTimer);
      health.close();
      await gc.stop();
      debug?.server.close();
      const closed = once(server, 'close');
      server.close();
      server.closeIdleConnections();
      // A keep-alive connection whose request finishes during the drain would otherwise stay open
      // until the client drops it: close connections as they fall idle.
      const idle = setInterval(() => server.closeIdleConnections(), 50).unref();
      // In-flight requests get http.draintimeout to finish; then their connections are cut.
      const force = setTimeout(() => server.closeAllConnections(), config.http.draintimeout).unref();
      await closed;
      clearInterval(idle);
      clearTimeout(force);
      // After the listener: requests that were completing still get their events queued.
      await notifier.close();
    },
  };
}

/** Local state (the outbox, the token service's key) beside S3 storage, which has no directory. */
const S3_STATE_DIR = './data';

/**
 * The storage driver, ready to serve, and the local directory for the state that stays on this
 * host: the filesystem driver's root, or ./data with S3. An S3 bucket that cannot be reached or
 * used stops the start here, as a configuration error.
 */
async function openStorage(storage: StorageOptions, logger: Logger, readOnly: boolean): Promise<{ driver: StorageDriver; stateDir: string }> {
  if (storage.kind === 'filesystem') {
    // Read-only mode serves a root it may not write (a read-only mount): nothing is probed or swept.
    if (!readOnly) await probeWritable(storage.rootDirectory, 'the storage root (storage.filesystem.rootdirectory)');
    const driver = new FilesystemDriver(storage.rootDirectory, { fsync: storage.fsync });
    // What a crash left in _tmp (half-written temp files, staged subtrees) goes before anything writes.
    const swept = readOnly ? 0 : await driver.sweepTemp();
    if (swept > 0) logger.info({ removed: swept }, 'removed temp entries an earlier run left in the storage root');
    await migrate(driver, logger);
    return { driver, stateDir: driver.root };
  }
  // Loaded only when used: the AWS SDK costs memory and start time a filesystem registry need not pay.
  const { S3Driver } = await import('./storage/s3/s3-driver.ts');
  const driver = new S3Driver(storage.s3);
  try {
    await driver.check();
  } catch (err) {
    const status = (err as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
    const why = `${(err as Error).name}${status ? ` (HTTP ${status})` : ''}: ${(err as Error).message || 'no message'}`;
    throw new ConfigError(`storage.s3: bucket "${storage.s3.bucket}"${storage.s3.regionEndpoint ? ` at ${storage.s3.regionEndpoint}` : ''} cannot be used: ${why}`);
  }
  await migrate(driver, logger);
  const stateDir = path.resolve(S3_STATE_DIR);
  await probeWritable(stateDir, 'the local state directory (outbox, token key)');
  logger.info({ stateDir }, `outbox and token key kept in ${S3_STATE_DIR} (storage is s3)`);
  return { driver, stateDir };
}

/** A root of an older Dockyard (no `docker/registry/v2/`) is moved into Distribution's layout first. */
async function migrate(driver: StorageDriver, logger: Logger): Promise<void> {
  let migration: Awaited<ReturnType<typeof migrateLayout>>;
  try {
    migration = await migrateLayout(driver);
  } catch (err) {
    throw new ConfigError(`storage: ${err instanceof Error ? err.message : String(err)}`);
  }
  if (migration.moved.length > 0 || migration.rewrittenLinks > 0) {
    logger.info(migration, "moved the storage root into Distribution's layout (docker/registry/v2)");
  }
}
