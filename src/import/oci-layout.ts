import type { Descriptor } from '../oci/descriptor.ts';
import { digestOf, type Digest } from '../oci/digest.ts';
import type { ParsedManifest } from '../oci/manifest.ts';
import { MediaType } from '../oci/media-types.ts';
import type { Tag } from '../oci/names.ts';
import { ArchiveError } from './archive-error.ts';
import type { ArchiveCatalog } from './catalog.ts';
import { blobPath, checkedManifest } from './manifest-check.ts';
import type { PlannedBlob, PlannedManifest, PushPlan } from './push-plan.ts';
import { DEFAULT_TAG, REF_NAME, tagOfName } from './tag-choice.ts';

/** Indexes inside indexes, at most this deep (the spec allows nesting; real images use one level). */
const MAX_DEPTH = 4;
/** All manifests of one import together, held in memory while it runs (each is at most 4 MiB). */
const MAX_MANIFEST_TOTAL = 64 * 1024 * 1024;

interface Found {
  descriptor: Descriptor;
  content: Buffer;
  parsed: ParsedManifest;
}

/**
 * The push plan of an OCI image layout (`oci-layout`, `index.json`, `blobs/<alg>/<hex>`): the
 * image index.json names (by the form's tag when it matches a `ref.name`, else its only entry),
 * or index.json itself as an image index when it lists several unnamed manifests (platforms).
 * Every manifest is pushed as the archive holds it, so its digest stays the same.
 */
export async function planOciLayout(catalog: ArchiveCatalog, wantedTag: Tag | null): Promise<PushPlan> {
  const indexJson = catalog.top.get('index.json')!;
  const index = checkedManifest('index.json', indexJson, MediaType.OciIndex);
  const chosen = chooseEntry(index.manifests, wantedTag);
  const roots = chosen ? [chosen] : index.manifests;
  const found = await readManifests(catalog, roots);

  const manifests: PlannedManifest[] = [];
  const ordered = new Set<Digest>();
  const visit = (digest: Digest): void => {
    if (ordered.has(digest)) return;
    ordered.add(digest);
    const m = found.get(digest)!;
    for (const child of m.parsed.manifests) visit(child.digest);
    manifests.push({ reference: { digest }, digest, mediaType: m.parsed.mediaType, content: m.content });
  };
  for (const root of roots) visit(root.digest);

  const tag = wantedTag ?? tagOfName(chosen?.annotations?.[REF_NAME]) ?? DEFAULT_TAG;
  if (chosen) {
    manifests.at(-1)!.reference = { tag };
  } else {
    manifests.push({ reference: { tag }, digest: digestOf(indexJson), mediaType: index.mediaType, content: indexJson });
  }
  return { format: 'oci-layout', blobs: blobsOf(catalog, [...found.values()]), manifests, tag };
}

/** The entry of index.json to import, or null: index.json itself, as the index of all of them. */
function chooseEntry(entries: Descriptor[], wantedTag: Tag | null): Descriptor | null {
  if (entries.length === 0) throw new ArchiveError('index.json lists no manifest', { entry: 'index.json' });
  const named = entries.filter((e) => tagOfName(e.annotations?.[REF_NAME]) !== null);
  const byTag = wantedTag ? named.find((e) => tagOfName(e.annotations?.[REF_NAME]) === wantedTag) : undefined;
  if (byTag) return byTag;
  if (entries.length === 1) return entries[0]!;
  if (named.length === 0) return null;
  const names = named.map((e) => e.annotations![REF_NAME]!);
  throw new ArchiveError(
    `index.json names several images (${names.slice(0, 10).join(', ')}): give the one to import as the tag`,
    { entry: 'index.json', names: names.slice(0, 100) },
  );
}

/** Every manifest reachable from `roots`, read and checked, one pass over the archive per level. */
async function readManifests(catalog: ArchiveCatalog, roots: Descriptor[]): Promise<Map<Digest, Found>> {
  const found = new Map<Digest, Found>();
  let held = 0;
  let level = roots;
  for (let depth = 0; level.length > 0; depth++) {
    if (depth >= MAX_DEPTH) throw new ArchiveError(`indexes are nested more than ${MAX_DEPTH} deep`, { limit: MAX_DEPTH });
    const unread = [...new Map(level.filter((d) => !found.has(d.digest)).map((d) => [d.digest, d])).values()];
    const names = new Map(unread.map((d) => [d.digest, entryOf(catalog, d, 'manifest')]));
    held += [...names.values()].reduce((n, name) => n + catalog.sizeOf(name), 0);
    if (held > MAX_MANIFEST_TOTAL) {
      throw new ArchiveError(`the manifests of the archive come to more than ${MAX_MANIFEST_TOTAL} bytes`, { limit: MAX_MANIFEST_TOTAL });
    }
    const contents = await catalog.readWhole(names.values());
    level = [];
    for (const d of unread) {
      const name = names.get(d.digest)!;
      const content = contents.get(name)!;
      const parsed = checkedManifest(name, content, d.mediaType, d);
      found.set(d.digest, { descriptor: d, content, parsed });
      level.push(...parsed.manifests);
    }
  }
  return found;
}

/** The blobs (configs, layers) of the manifests, each once; every one must be in the archive. */
function blobsOf(catalog: ArchiveCatalog, manifests: Found[]): PlannedBlob[] {
  const blobs = new Map<Digest, PlannedBlob>();
  for (const m of manifests) {
    for (const d of m.parsed.blobs) {
      if (blobs.has(d.digest)) continue;
      blobs.set(d.digest, { digest: d.digest, size: d.size, source: { entry: entryOf(catalog, d, 'blob', m.descriptor.digest) } });
    }
  }
  return [...blobs.values()];
}

/** The archive's regular file for `d`, of the descriptor's size. */
function entryOf(catalog: ArchiveCatalog, d: Descriptor, kind: 'manifest' | 'blob', referrer?: Digest): string {
  const name = blobPath(d.digest);
  const entry = catalog.resolve(name);
  const by = referrer ? `manifest ${referrer} references ${kind} ${d.digest}` : `${kind} ${d.digest}`;
  if (!entry) throw new ArchiveError(`${by}, which is not in the archive (no ${name})`, { digest: d.digest, entry: name, ...(referrer ? { manifest: referrer } : {}) });
  if (entry.size !== d.size) {
    throw new ArchiveError(`${by} of ${d.size} bytes, but ${name} holds ${entry.size}`, { digest: d.digest, entry: name, expected: d.size, actual: entry.size });
  }
  return entry.name;
}
