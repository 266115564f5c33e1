import { once } from 'node:events';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Logger } from 'pino';
import { createApp } from './api/app.ts';
import type { Config } from './config/schema.ts';
import { parseListenAddress } from './config/listen-address.ts';
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
  close(): Promise<void>;
}

/** Constructs everything from a validated config and starts listening. The one place drivers are chosen. */
export async function startRegistry(config: Config, logger: Logger): Promise<RunningRegistry> {
  const driver = new FilesystemDriver(config.storage.filesystem.rootdirectory);
  const registry = new StorageRegistry(driver);
  const notifier: Notifier = new NoopNotifier();

  const app = createApp(
    {
      registry,
      repository: (name, ctx) => notifier.listen(registry.repository(name), ctx),
      deleteEnabled: config.storage.delete.enabled,
      externalBaseUrl: config.http.host,
    },
    logger,
  );

  const { host, port } = parseListenAddress(config.http.addr);
  const server = app.listen(port, host ?? '::');
  await once(server, 'listening');
  server.keepAliveTimeout = 65_000;
  const address = server.address() as AddressInfo;
  const shownHost = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  const url = `http://${host === undefined ? '127.0.0.1' : shownHost}:${address.port}`;

  const purging = config.storage.maintenance.uploadpurging;
  const purgeTimer = purging.enabled
    ? setInterval(() => {
        purgeUploads(registry, { ageMs: purging.age, dryRun: purging.dryrun }, logger).catch((err: unknown) =>
          logger.error({ err }, 'upload purge failed'),
        );
      }, purging.interval).unref()
    : undefined;

  logger.info({ addr: config.http.addr, url, root: driver.root, storage: driver.name }, 'dockyard listening');

  return {
    server,
    url,
    port: address.port,
    registry,
    async close() {
      clearInterval(purgeTimer);
      const closed = once(server, 'close');
      server.close();
      server.closeIdleConnections();
      const force = setTimeout(() => server.closeAllConnections(), 10_000).unref();
      await closed;
      clearTimeout(force);
      await notifier.close();
    },
  };
}
