import { setTimeout as sleep } from 'node:timers/promises';
import type { Digest } from '../../oci/digest.ts';
import { RegistryError } from '../../oci/errors.ts';
import type { RepoName } from '../../oci/names.ts';
import type { StorageDriver } from '../driver.ts';
import { isNotFound } from '../driver.ts';
import { layout } from '../layout.ts';

/**
 * The collector's announcement that it is deleting an untagged manifest: a file in the revision's
 * directory (Distribution reads only `link`), written before it looks at the revision's age and
 * tags, gone with the directory when it deletes it, or removed when it keeps it. A push of the
 * manifest that finds it after writing its revision waits until it is gone, then checks its
 * revision again: the push writes, then looks; the collector announces, then looks, so either the
 * collector sees the push's fresh revision (and keeps it), or the push sees the announcement.
 */
export function untaggingMarker(name: RepoName, digest: Digest): string {
  return layout.revisionDeleting(name, digest);
}

/** A collector's delete takes milliseconds: an announcement older than this is one a crash left. */
export const UNTAGGING_MAX_MS = 10_000;

/** Waits while a collector is deleting the manifest as untagged (bounded by UNTAGGING_MAX_MS). */
export async function untaggingSettled(driver: StorageDriver, name: RepoName, digest: Digest): Promise<void> {
  const deadline = Date.now() + UNTAGGING_MAX_MS;
  while (Date.now() < deadline) {
    try {
      const marker = await driver.stat(untaggingMarker(name, digest));
      if (Date.now() - marker.modifiedAt.getTime() > UNTAGGING_MAX_MS) return;
    } catch (err) {
      if (isNotFound(err)) return;
      throw err;
    }
    await sleep(20);
  }
}

/**
 * The collector's untagged delete kept the manifest: a tag names it, or a push wrote its revision
 * again since `cutoff`. Nothing deleted, nothing to report (a 4xx: no event).
 */
export class ManifestKeptError extends RegistryError {
  constructor(digest: Digest, reason: 'tagged' | 'pushed again') {
    super('DENIED', `manifest ${digest} is ${reason}: not deleted as untagged`, { status: 409, detail: { digest, reason } });
  }
}
