import type { Descriptor } from '../oci/descriptor.ts';
import { tryParseDigest, type Digest } from '../oci/digest.ts';
import { parseManifest, type ParsedManifest } from '../oci/manifest.ts';
import type { RepoName } from '../oci/names.ts';
import { exists, listOptional, readOptional } from './content-store.ts';
import type { StorageDriver } from './driver.ts';
import type { KeyedMutex } from './keyed-mutex.ts';
import { layout } from './layout.ts';
import { mediaTypeOfContent } from './manifest-media-type.ts';

/** The descriptor the referrers API returns for a manifest with a subject. */
export function referrerDescriptor(digest: Digest, size: number, parsed: ParsedManifest): Descriptor {
  const d: Descriptor = { mediaType: parsed.mediaType, digest, size };
  if (parsed.artifactType !== undefined) d.artifactType = parsed.artifactType;
  if (parsed.annotations !== undefined) d.annotations = parsed.annotations;
  return d;
}

/**
 * Makes sure a repository's referrers index covers every manifest in it. Distribution keeps no
 * such index, so a repository it wrote has manifests with a `subject` and no entries: the first
 * referrers request for the repository scans its revisions, adds an entry for each manifest
 * with a subject, and then writes `_referrers/_complete`, so the scan runs once per data root.
 * Our own pushes add their entry as they go, so after the scan the index stays whole; a
 * repository we created is marked complete by its first push (no scan, and no write on a read).
 *
 * Known gap: manifests Distribution pushes into a repository after the scan are not indexed
 * (delete `_referrers/_complete` to scan again).
 */
export class ReferrerIndex {
  /** Repositories known complete in this process (saves reading the marker each time). */
  private readonly complete = new Set<RepoName>();
  private readonly building = new Map<RepoName, Promise<void>>();
  /** Repositories that held other manifests when a push checked: left to the scan. */
  private readonly leftToScan = new Set<RepoName>();

  constructor(
    private readonly driver: StorageDriver,
    /** ManifestStore's locks: a revision is read and indexed while no push or delete of it runs. */
    private readonly manifestLocks: KeyedMutex,
  ) {}

  async ensure(name: RepoName): Promise<void> {
    if (this.complete.has(name)) return;
    let build = this.building.get(name);
    if (!build) {
      build = this.build(name).finally(() => this.building.delete(name));
      this.building.set(name, build);
    }
    await build;
  }

  /**
   * Called by a push once its revision and referrer entry are in place: a repository whose first
   * manifest this is has nothing to scan, so it is marked complete now (a read then never has to
   * write). Otherwise the scan at the first referrers request decides.
   */
  async manifestAdded(name: RepoName): Promise<void> {
    if (this.complete.has(name) || this.leftToScan.has(name)) return;
    if (await exists(this.driver, layout.referrersComplete(name))) {
      this.complete.add(name);
      return;
    }
    if ((await this.revisions(name)).length !== 1) {
      this.leftToScan.add(name);
      return;
    }
    await this.driver.putContent(layout.referrersComplete(name), new Date().toISOString());
    this.complete.add(name);
  }

  private async build(name: RepoName): Promise<void> {
    if (await exists(this.driver, layout.referrersComplete(name))) {
      this.complete.add(name);
      return;
    }
    const revisions = await this.revisions(name);
    // No manifests (or no repository): nothing to index, and nothing is written, so a request
    // for a name that does not exist leaves no trace in storage.
    if (revisions.length === 0) return;
    for (const digest of revisions) {
      await this.manifestLocks.run(`${name}@${digest}`, () => this.index(name, digest));
    }
    await this.driver.putContent(layout.referrersComplete(name), new Date().toISOString());
    this.complete.add(name);
  }

  private async revisions(name: RepoName): Promise<Digest[]> {
    const found: Digest[] = [];
    const root = layout.revisionsDir(name);
    for (const alg of await listOptional(this.driver, root)) {
      for (const hex of await listOptional(this.driver, `${root}/${alg}`)) {
        const digest = tryParseDigest(`${alg}:${hex}`);
        if (digest) found.push(digest);
      }
    }
    return found;
  }

  /** Adds the entry of one revision when it has a subject; the caller holds its manifest lock. */
  private async index(name: RepoName, digest: Digest): Promise<void> {
    if (!(await exists(this.driver, layout.revisionLink(name, digest)))) return; // deleted meanwhile
    const body = await readOptional(this.driver, layout.blobData(digest));
    if (!body) return;
    const mediaType = mediaTypeOfContent(body);
    if (mediaType === null) return;
    let parsed: ParsedManifest;
    try {
      parsed = parseManifest(body, mediaType);
    } catch {
      return; // not a manifest we serve (schema 1, or invalid): it has no referrers entry
    }
    if (!parsed.subject) return;
    const entry = layout.referrerEntry(name, parsed.subject.digest, digest);
    if (await exists(this.driver, entry)) return;
    await this.driver.putContent(entry, JSON.stringify(referrerDescriptor(digest, body.length, parsed)));
  }
}
