import { tryParseDigest, type Digest } from '../../oci/digest.ts';
import { parseManifest } from '../../oci/manifest.ts';
import { isTag, type RepoName, type Tag } from '../../oci/names.ts';
import { listOptional, readOptional } from '../content-store.ts';
import { isNotFound, type StorageDriver } from '../driver.ts';
import { layout } from '../layout.ts';
import { mediaTypeOfContent } from '../manifest-media-type.ts';

/** What one repository holds, read from storage: revisions and layer links with their link's age. */
export interface RepositoryState {
  name: RepoName;
  /** Revision digest -> when its link was last written. */
  revisions: Map<Digest, Date>;
  /** Tag -> the digest its current link names. */
  tags: Map<Tag, Digest>;
  /** Layer-linked digest -> when its link was last written. */
  layers: Map<Digest, Date>;
}

/** What a manifest references: blobs (config, layers), child manifests, its subject. */
export interface ManifestRefs {
  blobs: Digest[];
  manifests: Digest[];
  subject: Digest | null;
}

/** The marks of one repository: the manifests kept and every digest they reference (themselves included). */
export interface RepositoryMarks {
  kept: Set<Digest>;
  referenced: Set<Digest>;
}

/** Lists `<root>/<alg>/<hex>/link` entries with their link's mtime. */
async function linksUnder(driver: StorageDriver, root: string): Promise<Map<Digest, Date>> {
  const found = new Map<Digest, Date>();
  for (const alg of await listOptional(driver, root)) {
    for (const hex of await listOptional(driver, `${root}/${alg}`)) {
      const digest = tryParseDigest(`${alg}:${hex}`);
      if (!digest) continue;
      try {
        found.set(digest, (await driver.stat(`${root}/${alg}/${hex}/link`)).modifiedAt);
      } catch (err) {
        if (!isNotFound(err)) throw err; // a directory without its link is no link
      }
    }
  }
  return found;
}

export async function readRepository(driver: StorageDriver, name: RepoName): Promise<RepositoryState> {
  const tags = new Map<Tag, Digest>();
  for (const tag of await listOptional(driver, layout.tagsDir(name))) {
    if (!isTag(tag)) continue;
    const raw = await readOptional(driver, layout.tagLink(name, tag));
    const digest = raw ? tryParseDigest(raw.toString('utf8').trim()) : null;
    if (digest) tags.set(tag, digest);
  }
  return {
    name,
    revisions: await linksUnder(driver, layout.revisionsDir(name)),
    tags,
    layers: await linksUnder(driver, layout.layersDir(name)),
  };
}

/**
 * Reads manifests once per collection (content-addressed: a digest's bytes never change).
 * A manifest we cannot parse (schema 1, or a type we do not serve) is read conservatively:
 * every `digest` or `blobSum` string anywhere in its JSON counts as a blob it references.
 */
export class ManifestReader {
  private readonly cache = new Map<Digest, ManifestRefs>();
  private held: { pathOf(digest: Digest): string | null } | null = null;

  constructor(private readonly driver: StorageDriver) {}

  /** Reads a manifest whose data the collector moved aside from where it is held. */
  heldBy(held: { pathOf(digest: Digest): string | null }): void {
    this.held = held;
  }

  /** Null when the manifest's bytes are not stored (not remembered: a push may store them before the next mark). */
  async refs(digest: Digest): Promise<ManifestRefs | null> {
    const cached = this.cache.get(digest);
    if (cached) return cached;
    const heldAt = this.held?.pathOf(digest);
    const body = (await readOptional(this.driver, layout.blobData(digest))) ?? (heldAt ? await readOptional(this.driver, heldAt) : null);
    if (!body) return null;
    const refs = refsOf(body);
    this.cache.set(digest, refs);
    return refs;
  }
}

function refsOf(body: Buffer): ManifestRefs {
  const mediaType = mediaTypeOfContent(body);
  if (mediaType !== null) {
    try {
      const parsed = parseManifest(body, mediaType);
      return {
        blobs: parsed.blobs.map((d) => d.digest),
        manifests: parsed.manifests.map((d) => d.digest),
        subject: parsed.subject?.digest ?? null,
      };
    } catch {
      // read generically below
    }
  }
  const blobs: Digest[] = [];
  const walk = (value: unknown): void => {
    if (Array.isArray(value)) value.forEach(walk);
    else if (value && typeof value === 'object') {
      for (const [key, v] of Object.entries(value)) {
        const digest = (key === 'digest' || key === 'blobSum') && typeof v === 'string' ? tryParseDigest(v) : null;
        if (digest) blobs.push(digest);
        else walk(v);
      }
    }
  };
  try {
    walk(JSON.parse(body.toString('utf8')));
  } catch {
    // not JSON: references nothing we can tell
  }
  return { blobs, manifests: [], subject: null };
}

/**
 * Marks one repository. Without `deleteUntagged` every revision is kept. With it, the kept
 * manifests are the closure of: what tags name, revisions younger than `cutoff` (a push by
 * digest in progress: an index's children go up before the index), the children of a kept
 * index (a manifest a tagged index names is not untagged: Distribution 2.8.2 gets this wrong),
 * and every referrer whose subject is kept (a signature of a kept image stays, tagged or not).
 */
export async function markRepository(
  state: RepositoryState,
  reader: ManifestReader,
  options: { deleteUntagged: boolean; cutoff: Date },
): Promise<RepositoryMarks> {
  const kept = new Set<Digest>();
  const pending: Digest[] = [];
  const keep = (digest: Digest): void => {
    if (!kept.has(digest) && state.revisions.has(digest)) {
      kept.add(digest);
      pending.push(digest);
    }
  };
  if (!options.deleteUntagged) {
    for (const digest of state.revisions.keys()) keep(digest);
  } else {
    for (const digest of state.tags.values()) keep(digest);
    for (const [digest, at] of state.revisions) if (at >= options.cutoff) keep(digest);
  }
  const referenced = new Set<Digest>();
  // Subject -> its referrers, read once: a referrer is kept when its subject is.
  const referrers = new Map<Digest, Digest[]>();
  if (options.deleteUntagged) {
    for (const digest of state.revisions.keys()) {
      const subject = (await reader.refs(digest))?.subject;
      if (subject) referrers.set(subject, [...(referrers.get(subject) ?? []), digest]);
    }
  }
  for (let digest = pending.pop(); digest !== undefined; digest = pending.pop()) {
    referenced.add(digest);
    const refs = await reader.refs(digest);
    for (const blob of refs?.blobs ?? []) referenced.add(blob);
    for (const child of refs?.manifests ?? []) {
      referenced.add(child);
      keep(child);
    }
    for (const referrer of referrers.get(digest) ?? []) keep(referrer);
  }
  return { kept, referenced };
}

/** Every repository's state and marks, and the union of what they reference (blobs are global). */
export async function markAll(
  driver: StorageDriver,
  names: readonly RepoName[],
  reader: ManifestReader,
  options: { deleteUntagged: boolean; cutoff: Date },
): Promise<{ states: Map<RepoName, RepositoryState>; marks: Map<RepoName, RepositoryMarks>; referenced: Set<Digest> }> {
  const states = new Map<RepoName, RepositoryState>();
  const marks = new Map<RepoName, RepositoryMarks>();
  const referenced = new Set<Digest>();
  for (const name of names) {
    const state = await readRepository(driver, name);
    const mark = await markRepository(state, reader, options);
    states.set(name, state);
    marks.set(name, mark);
    for (const digest of mark.referenced) referenced.add(digest);
  }
  return { states, marks, referenced };
}
