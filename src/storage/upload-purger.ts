import type { Logger } from 'pino';
import { listOptional, readOptional } from './content-store.ts';
import type { StorageDriver } from './driver.ts';
import { layout, parseUploadId } from './layout.ts';
import type { StorageRegistry } from './storage-registry.ts';

export interface PurgeOptions {
  /** Uploads older than this are removed. */
  ageMs: number;
  dryRun: boolean;
}

/**
 * Removes abandoned upload sessions, as Distribution's `storage.maintenance.uploadpurging` does.
 * Returns how many it removed (or would remove, on a dry run).
 */
export async function purgeUploads(
  registry: StorageRegistry,
  options: PurgeOptions,
  logger: Logger,
  now: Date = new Date(),
): Promise<number> {
  const driver: StorageDriver = registry.driver;
  let purged = 0;
  for (const name of await registry.repositoryNames(['_uploads'])) {
    for (const entry of await listOptional(driver, layout.uploadsDir(name))) {
      const id = parseUploadId(entry);
      if (!id) continue;
      const raw = await readOptional(driver, layout.uploadState(name, id));
      const startedAt = raw ? Date.parse((JSON.parse(raw.toString('utf8')) as { startedAt: string }).startedAt) : 0;
      if (now.getTime() - startedAt < options.ageMs) continue;
      purged++;
      if (options.dryRun) {
        logger.info({ repository: name, upload: id }, 'upload purge (dry run): would remove');
      } else {
        await driver.delete(layout.uploadDir(name, id)).catch(() => undefined);
        logger.info({ repository: name, upload: id }, 'upload purge: removed abandoned upload');
      }
    }
  }
  return purged;
}
