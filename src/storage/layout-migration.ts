import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import { tryParseDigest } from '../oci/digest.ts';
import { listOptional, readOptional } from './content-store.ts';
import type { StorageDriver } from './driver.ts';
import { failpoint } from '../failpoint.ts';
import { Failpoints } from './failpoints.ts';
import { FilesystemDriver } from './filesystem-driver.ts';
import { syncPath } from './fs-calls.ts';
import { STORAGE_PREFIX, layout, legacyLayout } from './layout.ts';

export interface LayoutMigration {
  /** What was moved, as `from -> to`; empty when the root already had the current layout. */
  moved: string[];
  /** Revision links rewritten from the earlier JSON form into the digest alone. */
  rewrittenLinks: number;
}

/**
 * Moves a data root of Dockyard's earlier layout (`blobs/` and `repositories/` at the top, no
 * `docker/registry/v2/` prefix) into Distribution's layout, rewriting its JSON revision links
 * (`{digest, mediaType}`) into the digest alone, so that Distribution can read them too. Run once at start, before serving
 * (after the temp sweep or before it: nothing here goes through the temp directory).
 *
 * Each of the two directories moves in one rename when it is present and its new place is not;
 * `docker/registry/v2` is created first, so the rename never has to build a subtree in the
 * driver's temp directory (which a start sweeps: a crash there would lose the data). A crash
 * between the two renames is finished by the next start, and a root already moved is left
 * alone, so it runs on every start. A directory present in both places means two data roots
 * were mixed: nothing is moved and the start stops.
 *
 * Only the filesystem driver can hold the earlier layout (Dockyard had no other driver then).
 * On any other driver the old paths are absent and nothing happens; were they present, the
 * start stops, as a bucket's prefix cannot be renamed in one step.
 */
export async function migrateLayout(driver: StorageDriver): Promise<LayoutMigration> {
  const top = new Set(await listOptional(driver, ''));
  const current = new Set(await listOptional(driver, STORAGE_PREFIX));
  const pending = [
    { from: legacyLayout.blobsRoot, to: layout.blobsRoot, name: 'blobs' },
    { from: legacyLayout.repositoriesRoot, to: layout.repositoriesRoot, name: 'repositories' },
  ].filter((p) => top.has(p.from));
  if (pending.length === 0) return { moved: [], rewrittenLinks: 0 };

  const clashes = pending.filter((p) => current.has(p.name));
  if (clashes.length > 0) {
    const which = clashes.map((p) => `${p.from}/ and ${p.to}/`).join(', ');
    throw new Error(
      `storage root holds both the old and the new layout (${which}): move or remove one of each pair by hand, then start again`,
    );
  }
  if (!(driver instanceof FilesystemDriver)) {
    throw new Error(
      `storage (${driver.name}) holds Dockyard's earlier layout (${pending.map((p) => `${p.from}/`).join(', ')}), which only a filesystem root can be moved out of: move it under ${STORAGE_PREFIX}/ by hand`,
    );
  }
  // Before the renames, so that a crash part-way is finished by the next start (which sees the
  // old layout still): Distribution reads a revision link as a digest and fails on our old JSON.
  const rewrittenLinks = top.has(legacyLayout.repositoriesRoot) && !current.has('repositories')
    ? await rewriteRevisionLinks(driver, legacyLayout.repositoriesRoot)
    : 0;
  const target = path.join(driver.root, STORAGE_PREFIX);
  await fs.mkdir(target, { recursive: true });
  const moved: string[] = [];
  for (const p of pending) {
    await fs.rename(path.join(driver.root, p.from), path.join(driver.root, p.to));
    moved.push(`${p.from} -> ${p.to}`);
    failpoint(Failpoints.migrationRenamed);
  }
  if (driver.fsync) {
    // The renames and the directories mkdir made, from v2 up to the root.
    for (let dir = target; ; dir = path.dirname(dir)) {
      await syncPath(dir);
      if (dir === driver.root) break;
    }
  }
  return { moved, rewrittenLinks };
}

/** Every `_manifests/revisions/<alg>/<hex>/link` under `root` holding JSON gets the digest alone. */
async function rewriteRevisionLinks(driver: StorageDriver, root: string): Promise<number> {
  let rewritten = 0;
  const walk = async (dir: string): Promise<void> => {
    const children = await listOptional(driver, dir);
    if (children.includes('_manifests')) {
      const revisions = `${dir}/_manifests/revisions`;
      for (const alg of await listOptional(driver, revisions)) {
        for (const hex of await listOptional(driver, `${revisions}/${alg}`)) {
          const link = `${revisions}/${alg}/${hex}/link`;
          const raw = await readOptional(driver, link);
          if (!raw || raw[0] !== 0x7b /* { */) continue;
          const digest = tryParseDigest(`${alg}:${hex}`);
          if (digest) {
            await driver.putContent(link, digest);
            rewritten++;
            failpoint(Failpoints.migrationLinkRewritten);
          }
        }
      }
    }
    for (const child of children) if (!child.startsWith('_')) await walk(`${dir}/${child}`);
  };
  await walk(root);
  return rewritten;
}
