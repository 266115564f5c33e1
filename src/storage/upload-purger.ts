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
 * Removes abandoned upload sessions, as Distribution's `storage.maintenance.uploadpurging` does,
 * Distribution's own sessions included (by their `startedat`).
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
      const startedAt =
        startedAtOf(await readOptional(driver, layout.uploadState(name, id))) ??
        startedAtFileOf(await readOptional(driver, layout.uploadStartedAt(name, id))) ??
        0;
      if (now.getTime() - startedAt < options.ageMs) continue;
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
  if (!options.dryRun && driver.purgeIncompleteWrites) {
    try {
      const aborted = await driver.purgeIncompleteWrites(new Date(now.getTime() - options.ageMs));
      if (aborted === null) logger.warn('upload purge: the storage cannot list incomplete multipart uploads; a bucket lifecycle rule must abort them');
      else if (aborted > 0) logger.info({ aborted }, 'upload purge: aborted incomplete multipart uploads');
    } catch (err) {
      failed++;
      logger.error({ err }, 'upload purge: failed to abort incomplete multipart uploads');
    }
  }
  if (failed > 0) {
    throw new Error(`upload purge: ${failed} abandoned upload(s) could not be removed (${purged} removed)`);
  }
  return purged;
}

/** When a session started, from our `state`; null when it is missing or unreadable. */
function startedAtOf(raw: Buffer | null): number | null {
  if (!raw) return null;
  try {
    const startedAt = Date.parse((JSON.parse(raw.toString('utf8')) as { startedAt?: string }).startedAt ?? '');
    return Number.isNaN(startedAt) ? null : startedAt;
  } catch {
    return null;
  }
}

/**
 * From Distribution's `startedat` (RFC 3339), for a session Distribution started. A session
 * with neither file counts as very old (Distribution's purger never removes one: a crash's debris).
 */
function startedAtFileOf(raw: Buffer | null): number | null {
  if (!raw) return null;
  const startedAt = Date.parse(raw.toString('utf8').trim());
  return Number.isNaN(startedAt) ? null : startedAt;
}
