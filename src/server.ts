import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { hostname } from 'node:os';
import type { Logger } from 'pino';
import { Registry as MetricsRegistry, collectDefaultMetrics } from 'prom-client';
import { createApp } from './api/app.ts';
import { ClientAddress } from './api/client-address.ts';
import { createGuards } from './api/guards.ts';
import { setUpAuth } from './auth/setup.ts';
import { parseListenAddress } from './config/listen-address.ts';
import { notifyOptions } from './config/notifications.ts';
import type { Config } from './config/schema.ts';
import { startDebugServer } from './debug-server.ts';
import type { NotificationAdmin } from './notify/admin.ts';
import { NoopNotifier, type Notifier } from './notify/notifier.ts';
import { FilesystemDriver } from './storage/filesystem-driver.ts';
import { StorageRegistry } from './storage/storage-registry.ts';
import { purgeUploads } from './storage/upload-purger.ts';

export interface RunningRegistry {
  server: Server;
  /** `http://host:port` the server listens on. */
  url: string;
  port: number;
  registry: StorageRegistry;
  metrics: MetricsRegistry;
  /** The debug server's port (metrics), when `http.debug.addr` is set. */
  debugPort?: number;
  close(): Promise<void>;
}

/**
 * Constructs everything from a validated config and starts listening: the one place where
 * drivers are chosen and the pieces are wired together.
 */
export async function startRegistry(config: Config, logger: Logger): Promise<RunningRegistry> {
  const { host, port: wantedPort } = parseListenAddress(config.http.addr);
  let port = wantedPort; // the real one (for port 0) once listening; events name it in source.addr

  const driver = new FilesystemDriver(config.storage.filesystem.rootdirectory, { fsync: config.storage.filesystem.fsync });
  // What a crash left in _tmp (half-written temp files, staged subtrees) goes before anything writes.
  const swept = await driver.sweepTemp();
  if (swept > 0) logger.info({ removed: swept }, 'removed temp entries an earlier run left in the storage root');
  const registry = new StorageRegistry(driver);
  // Before anything starts: a missing htpasswd file or bad certificate bundle stops the start here.
  const auth = await setUpAuth(config.auth, {
    storageRoot: driver.root,
    allowRemoteAdmin: config.notifications.admin.allowremote,
  });
  const metrics = new MetricsRegistry();
  const notify = notifyOptions(config.notifications, { storageRoot: driver.root, durable: config.storage.filesystem.fsync });
  // Loaded only when used: the delivery machinery (SQLite, undici) costs memory a registry
  // without endpoints should not pay.
  let notifier: Notifier & NotificationAdmin = new NoopNotifier();
  if (notify.endpoints.length > 0) {
    const { ThreadedNotifier } = await import('./notify/threaded-notifier.ts');
    const threaded = new ThreadedNotifier(
      notify,
      {
        sourceAddr: () => `${hostname()}:${port}`,
        metrics,
        logLevel: logger.level,
        repositories: (name) => registry.repository(name),
      },
      logger,
    );
    await threaded.ready; // delivering (and redelivering what a crash left) before the first request
    notifier = threaded;
  }

  const app = createApp(
    {
      registry,
      repository: (name, ctx) => notifier.listen(registry.repository(name), ctx),
      deleteEnabled: config.storage.delete.enabled,
      externalBaseUrl: config.http.host,
      notifications: notifier,
      guards: createGuards(auth.access),
      tokenService: auth.tokenService,
    },
    { headers: config.http.headers, clients: new ClientAddress(config.http.trustedproxies) },
    logger,
  );
  const server = createServer({ keepAliveTimeout: 65_000 }, app);
  server.listen(wantedPort, host ?? '::');
  await once(server, 'listening');
  const address = server.address() as AddressInfo;
  port = address.port;

  const purging = config.storage.maintenance.uploadpurging;
  const purgeTimer = purging.enabled
    ? setInterval(() => {
        purgeUploads(registry, { ageMs: purging.age, dryRun: purging.dryrun }, logger).catch((err: unknown) =>
          logger.error({ err }, 'upload purge failed'),
        );
      }, purging.interval).unref()
    : undefined;

  const debugConfig = config.http.debug;
  let debug: Awaited<ReturnType<typeof startDebugServer>> | undefined;
  if (debugConfig.addr) {
    if (debugConfig.prometheus.enabled) collectDefaultMetrics({ register: metrics });
    const path = debugConfig.prometheus.enabled ? debugConfig.prometheus.path : null;
    debug = await startDebugServer(debugConfig.addr, path, metrics);
  }

  const shownHost = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  const url = `http://${host === undefined ? '127.0.0.1' : shownHost}:${port}`;
  logger.info(
    {
      addr: config.http.addr,
      url,
      root: driver.root,
      storage: driver.name,
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
    async close() {
      clearInterval(purgeTimer);
      debug?.server.close();
      const closed = once(server, 'close');
      server.close();
      server.closeIdleConnections();
      const force = setTimeout(() => server.closeAllConnections(), 10_000).unref();
      await closed;
      clearTimeout(force);
      // After the listener: requests that were completing still get their events queued.
      await notifier.close();
    },
  };
}
