import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import { tryParseDigest, type Digest } from '../../oci/digest.ts';
import { failpoint } from '../../failpoint.ts';
import { isRegistryError } from '../../oci/errors.ts';
import type { RepoName } from '../../oci/names.ts';
import { exists, listOptional, readOptional } from '../content-store.ts';
import { isNotFound, type FileInfo, type StorageDriver } from '../driver.ts';
import { Failpoints } from '../failpoints.ts';
import { layout, parseUploadId } from '../layout.ts';
import type { Repository } from '../repository.ts';
import { readRepository } from './mark.ts';
import { QUARANTINE_ROOT, heldPath } from './reclaim.ts';

/** Every blob's data file under blobs/, with its stat. */
export async function listBlobs(driver: StorageDriver): Promise<Map<Digest, FileInfo>> {
  const blobs = new Map<Digest, FileInfo>();
  for (const alg of await listOptional(driver, layout.blobsRoot)) {
    for (const prefix of await listOptional(driver, `${layout.blobsRoot}/${alg}`)) {
      for (const hex of await listOptional(driver, `${layout.blobsRoot}/${alg}/${prefix}`)) {
        const digest = tryParseDigest(`${alg}:${hex}`);
        if (!digest) continue;
        const info = await statOptional(driver, layout.blobData(digest));
        if (info) blobs.set(digest, info);
      }
    }
  }
  return blobs;
}

export async function statOptional(driver: StorageDriver, path: string): Promise<FileInfo | null> {
  try {
    return await driver.stat(path);
  } catch (err) {
    if (isNotFound(err)) return null;
    throw err;
  }
}

/** Runs `task`; a 404 RegistryError (gone meanwhile) or a missing path is `false`, not an error. */
export async function unlessGone(task: () => Promise<unknown>): Promise<boolean> {
  try {
    await task();
    return true;
  } catch (err) {
    if (isNotFound(err) || (isRegistryError(err) && err.status === 404)) return false;
    throw err;
  }
}

/**
 * Blob data moved aside, then deleted or put back. Moving is the collector's announcement: from
 * that instant a push that checks for the blob finds none and uploads (or refuses to mount) it.
 * What linked the blob before the move is seen by the look that follows it (`linkedNow`), and the
 * blob is put back; what links it after that look takes it back itself (reclaimBlob), or, once it
 * is deleted, undoes its link and is refused.
 */
export class Quarantine {
  private readonly run = randomUUID();
  private readonly dir = `${QUARANTINE_ROOT}/${this.run}`;
  private readonly held = new Map<Digest, number>();

  constructor(
    private readonly driver: StorageDriver,
    private readonly logger: Logger,
  ) {}

  private path(digest: Digest): string {
    return heldPath(this.run, digest);
  }

  /** Moves the blob's data aside; false when it was gone already. */
  async hold(digest: Digest, size: number): Promise<boolean> {
    if (!(await unlessGone(() => this.driver.move(layout.blobData(digest), this.path(digest))))) return false;
    this.held.set(digest, size);
    failpoint(Failpoints.gcBlobHeld);
    return true;
  }

  /** Where a held blob's data is now, or null when it is not held. */
  pathOf(digest: Digest): string | null {
    return this.held.has(digest) ? this.path(digest) : null;
  }

  digests(): Digest[] {
    return [...this.held.keys()];
  }

  /** Puts the blob back (unless a push stored it again meanwhile: the same bytes). */
  async restore(digest: Digest): Promise<void> {
    const held = this.path(digest);
    if (await exists(this.driver, layout.blobData(digest))) await unlessGone(() => this.driver.delete(held));
    else await unlessGone(() => this.driver.move(held, layout.blobData(digest)));
    this.held.delete(digest);
    failpoint(Failpoints.gcBlobRestored);
  }

  /** Deletes the held copy for good; its size, or null when another collector's recovery put it back first. */
  async drop(digest: Digest): Promise<number | null> {
    const size = this.held.get(digest) ?? 0;
    this.held.delete(digest);
    // A write path that linked the blob may take it back at the same instant (reclaimBlob): the
    // move and this delete of one path are atomic against each other, so one of the two wins.
    const dropped = await unlessGone(() => this.driver.delete(this.path(digest)));
    if (dropped) failpoint(Failpoints.gcBlobDropped);
    return dropped ? size : null;
  }

  /**
   * Puts back what any earlier run left held: a collector that died between its move and its
   * deletion may hold a blob a push had taken back into use. Run first by every collection. Another
   * collector running at the same time on shared storage may see its held blobs put back: it then
   * removes less, never more (its `drop` finds nothing and keeps the blob).
   */
  static async recover(driver: StorageDriver, logger: Logger): Promise<number> {
    let restored = 0;
    for (const run of await listOptional(driver, QUARANTINE_ROOT)) {
      const dir = `${QUARANTINE_ROOT}/${run}`;
      for (const entry of await listOptional(driver, dir)) {
        const digest = tryParseDigest(entry.replace('-', ':'));
        if (!digest) continue;
        const held = `${dir}/${entry}`;
        if (await exists(driver, layout.blobData(digest))) await unlessGone(() => driver.delete(held));
        else if (await unlessGone(() => driver.move(held, layout.blobData(digest)))) restored++;
      }
      await unlessGone(() => driver.delete(dir));
    }
    if (restored > 0) logger.warn({ restored }, 'gc: put back blobs an interrupted collection had moved aside');
    return restored;
  }

  /** Puts back whatever is still held (after a failure part-way), then removes the run's directory. */
  async close(): Promise<void> {
    for (const digest of this.digests()) {
      try {
        await this.restore(digest);
      } catch (err) {
        this.logger.error({ err, digest, path: this.path(digest) }, 'gc: could not put a blob back; move it to its data path by hand');
      }
    }
    await unlessGone(() => this.driver.delete(this.dir));
  }
}

/** Every digest some repository (listed now) links as a layer or holds as a revision: one pass over the links. */
export async function linkedNow(driver: StorageDriver, names: readonly RepoName[]): Promise<Set<Digest>> {
  const linked = new Set<Digest>();
  for (const name of names) {
    const state = await readRepository(driver, name);
    for (const digest of state.layers.keys()) linked.add(digest);
    for (const digest of state.revisions.keys()) linked.add(digest);
  }
  return linked;
}

/**
 * Removes a layer link: through the repository's blob service (which emits the `delete` event)
 * when the blob is there to be described; directly when its data is gone already (the repository
 * served nothing through it, so there is nothing to report).
 */
export async function removeLayerLink(driver: StorageDriver, repo: Repository, digest: Digest): Promise<boolean> {
  const removed = (await exists(driver, layout.blobData(digest)))
    ? await unlessGone(() => repo.blobs.delete(digest))
    : await unlessGone(() => driver.delete(layout.layerDir(repo.name, digest)));
  if (removed) failpoint(Failpoints.gcLinkRemoved);
  return removed;
}

/**
 * Drops what is left of a repository with no tags, revisions, layer links or uploads, so it
 * leaves the catalog: its `_manifests`, `_layers` and `_referrers`, each listed again right
 * before, then the directory itself when nothing (no nested repository) is left in it.
 */
export async function removeEmptyRepository(driver: StorageDriver, name: RepoName, cutoff: Date): Promise<boolean> {
  if (!(await uploadsSettled(driver, name, cutoff))) return false;
  const dirs = [layout.manifestsDir(name), layout.layersDir(name), layout.referrersRoot(name), layout.uploadsDir(name)];
  for (const dir of dirs) {
    if (await holdsLinks(driver, dir)) return false;
  }
  for (const dir of dirs) await unlessGone(() => driver.delete(dir));
  const root = layout.repository(name);
  if ((await listOptional(driver, root)).length === 0) await unlessGone(() => driver.delete(root));
  return true;
}

/**
 * Whether every upload session of the repository is over: completed (its `state` says so; kept
 * only so a retried completion answers the same) and older than the cutoff. A session in progress
 * keeps its repository.
 */
export async function uploadsSettled(driver: StorageDriver, name: RepoName, cutoff: Date): Promise<boolean> {
  for (const entry of await listOptional(driver, layout.uploadsDir(name))) {
    const id = parseUploadId(entry);
    if (!id) continue;
    const state = await statOptional(driver, layout.uploadState(name, id));
    if (!state || state.modifiedAt >= cutoff) return false;
    const raw = await readOptional(driver, layout.uploadState(name, id));
    try {
      if (!raw || !(JSON.parse(raw.toString('utf8')) as { completed?: unknown }).completed) return false;
    } catch {
      return false;
    }
  }
  return true;
}

/** Whether a directory tree holds a link (`_referrers` entries do not count: they describe revisions). */
async function holdsLinks(driver: StorageDriver, dir: string): Promise<boolean> {
  if (dir.endsWith('/_referrers') || dir.endsWith('/_uploads')) return false;
  for (const child of await listOptional(driver, dir)) {
    const path = `${dir}/${child}`;
    if (child === 'link') return true;
    const info = await statOptional(driver, path);
    if (info?.isDirectory && (await holdsLinks(driver, path))) return true;
  }
  return false;
}
