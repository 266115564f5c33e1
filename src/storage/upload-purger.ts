import type { Logger } from 'pino';
import { listOptional, readOptional } from './content-store.ts';
import { isNotFound, type StorageDriver } from './driver.ts';
import { layout, parseUploadId } from './layout.ts';
import type { StorageRegistry } from './storage-registry.ts';

export interface PurgeOptions {
  /** Uploads older than this are removed. */
  ageMs: number;
  dryRun: boolean;
}

/**
 * Removes abandoned upload sessions, as Distribution's `storage.maintenance.uploadpurging` does.
 * Returns how many it removed (or would remove, on a dry run). A removal that fails is logged
 * as a failure and the purge goes on with the others, then rejects naming how many failed.
 */
export async function purgeUploads(
  registry: StorageRegistry,
  options: PurgeOptions,
  logger: Logger,
  now: Date = new Date(),
): Promise<number> {
  const driver: StorageDriver = registry.driver;
  let purged = 0;
  let failed = 0;
  for (const name of await registry.repositoryNames(['_uploads'])) {
    for (const entry of await listOptional(driver, layout.uploadsDir(name))) {
      const id = parseUploadId(entry);
      if (!id) continue;
      const raw = await readOptional(driver, layout.uploadState(name, id));
      if (now.getTime() - startedAtOf(raw) < options.ageMs) continue;
      if (options.dryRun) {
        purged++;
        logger.info({ repository: name, upload: id }, 'upload purge (dry run): would remove');
        continue;
      }
      try {
        await driver.delete(layout.uploadDir(name, id));
      } catch (err) {
        // Gone meanwhile (completed, cancelled, or another replica purged it): not ours to report.
        if (isNotFound(err)) continue;
        failed++;
        logger.error({ err, repository: name, upload: id }, 'upload purge: failed to remove abandoned upload');
        continue;
      }
      purged++;
      logger.info({ repository: name, upload: id }, 'upload purge: removed abandoned upload');
    }
  }
  if (failed > 0) {
    throw new Error(`upload purge: ${failed} abandoned upload(s) could not be removed (${purged} removed)`);
  }
  return purged;
}

/** When a session started; a state that is missing or unreadable counts as very old. */
function startedAtOf(raw: Buffer | null): number {
  if (!raw) return 0;
  try {
    const startedAt = Date.parse((JSON.parse(raw.toString('utf8')) as { startedAt?: string }).startedAt ?? '');
    return Number.isNaN(startedAt) ? 0 : startedAt;
  } catch {
    return 0;
  }
}
