import { digestAlgorithm, digestHex, type Digest } from '../../oci/digest.ts';
import { failpoint } from '../../failpoint.ts';
import { exists, listOptional } from '../content-store.ts';
import { isNotFound, type StorageDriver } from '../driver.ts';
import { Failpoints } from '../failpoints.ts';
import { STORAGE_PREFIX, layout } from '../layout.ts';

/** Where blobs wait, moved aside, for the last look before they are deleted (ours; Distribution never reads it). */
export const QUARANTINE_ROOT = `${STORAGE_PREFIX}/_gc`;

/** Where one collection run (`run`, a directory under QUARANTINE_ROOT) holds a blob's data. */
export function heldPath(run: string, digest: Digest): string {
  return `${QUARANTINE_ROOT}/${run}/${digestAlgorithm(digest)}-${digestHex(digest)}`;
}

/**
 * The writer's half of the collector's protocol: called by a write path after it wrote the link
 * that makes `digest` part of a repository (a layer link, a revision link). True when the blob's
 * data is in blobs/ now: it was there, or a collector held it and it is taken back (a collector's
 * last look that comes after our link keeps it anyway; one that came before would drop it).
 * False when it is gone for good: the caller undoes its link and refuses the request.
 */
export async function reclaimBlob(driver: StorageDriver, digest: Digest): Promise<boolean> {
  const data = layout.blobData(digest);
  if (await exists(driver, data)) return true;
  for (const run of await listOptional(driver, QUARANTINE_ROOT)) {
    try {
      // Atomic against the collector's drop (a delete) of the same path: one of the two wins.
      await driver.move(heldPath(run, digest), data);
      failpoint(Failpoints.gcBlobReclaimed);
      return true;
    } catch (err) {
      if (!isNotFound(err)) throw err;
    }
  }
  // Put back meanwhile by the collector (its last look saw our link) or stored again by a push.
  return exists(driver, data);
}
