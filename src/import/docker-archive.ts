import { z } from 'zod';
import { digestOf, tryParseDigest, type Digest } from '../oci/digest.ts';
import { MediaType } from '../oci/media-types.ts';
import type { Tag } from '../oci/names.ts';
import { ArchiveError } from './archive-error.ts';
import { parseJson, type ArchiveCatalog } from './catalog.ts';
import { checkedManifest } from './manifest-check.ts';
import type { PlannedBlob, PushPlan } from './push-plan.ts';
import { DEFAULT_TAG, tagOfName } from './tag-choice.ts';

const OCI_CONFIG = 'application/vnd.oci.image.config.v1+json';
/** An uncompressed layer: what `docker save` holds, and the only type whose digest the config already names. */
const OCI_LAYER_TAR = 'application/vnd.oci.image.layer.v1.tar';

const manifestJsonSchema = z
  .array(z.object({ Config: z.string().min(1), RepoTags: z.array(z.string()).nullish(), Layers: z.array(z.string()) }))
  .min(1, 'lists no image');
const configSchema = z.object({ rootfs: z.object({ diff_ids: z.array(z.string()) }) });

/**
 * The push plan of a `docker save` tarball (manifest.json: Config, RepoTags, Layers). Such an
 * archive holds no manifest, only the config and uncompressed layer tars, so one is built: an OCI
 * image manifest with `application/vnd.oci.image.layer.v1.tar` layers. OCI rather than Docker
 * schema2 because schema2 defines only a gzip'd layer type; the OCI type says exactly what the
 * bytes are, every current client pulls it, and each layer's digest is the config's diff_id, so
 * the layers are streamed and verified as they are, never recompressed (which would change them).
 */
export async function planDockerArchive(catalog: ArchiveCatalog, wantedTag: Tag | null): Promise<PushPlan> {
  const listed = manifestJsonSchema.safeParse(parseJson('manifest.json', catalog.top.get('manifest.json')!));
  if (!listed.success) {
    const issue = listed.error.issues[0]!;
    throw new ArchiveError(`manifest.json is not a docker save manifest: ${issue.path.join('.') || 'manifest.json'} ${issue.message}`, {
      entry: 'manifest.json',
      issues: listed.error.issues.slice(0, 10).map((i) => ({ path: i.path.join('.'), message: i.message })),
    });
  }
  const images = listed.data;
  const tagsOf = (image: (typeof images)[number]) => (image.RepoTags ?? []).map(tagOfName).filter((t): t is Tag => t !== null);
  const image = (wantedTag ? images.find((i) => tagsOf(i).includes(wantedTag)) : undefined) ?? (images.length === 1 ? images[0] : undefined);
  if (!image) {
    const names = images.flatMap((i) => i.RepoTags ?? []);
    throw new ArchiveError(`manifest.json lists ${images.length} images (${names.slice(0, 10).join(', ')}): give the one to import as the tag`, {
      entry: 'manifest.json',
      names: names.slice(0, 100),
    });
  }

  const configName = fileOf(catalog, image.Config, 'the config');
  const config = (await catalog.readWhole([configName])).get(configName)!;
  const diffIds = diffIdsOf(configName, config, image.Layers.length);
  const configDigest = digestOf(config);
  const blobs = new Map<Digest, PlannedBlob>([[configDigest, { digest: configDigest, size: config.length, source: { data: config } }]]);
  const layers = image.Layers.map((layer, i) => {
    const entry = catalog.resolve(fileOf(catalog, layer, `layer ${i}`))!;
    const digest = diffIds[i]!;
    if (!blobs.has(digest)) blobs.set(digest, { digest, size: entry.size, source: { entry: entry.name } });
    return { mediaType: OCI_LAYER_TAR, digest, size: entry.size };
  });
  const content = Buffer.from(JSON.stringify({
    schemaVersion: 2,
    mediaType: MediaType.OciManifest,
    config: { mediaType: OCI_CONFIG, digest: configDigest, size: config.length },
    layers,
  }));
  checkedManifest('the manifest built from manifest.json', content, MediaType.OciManifest);
  const tag = wantedTag ?? tagsOf(image)[0] ?? DEFAULT_TAG;
  return {
    format: 'docker-archive',
    blobs: [...blobs.values()],
    manifests: [{ reference: { tag }, digest: digestOf(content), mediaType: MediaType.OciManifest, content }],
    tag,
  };
}

/** The regular file a path of manifest.json names, links followed. */
function fileOf(catalog: ArchiveCatalog, name: string, what: string): string {
  const entry = catalog.resolve(name.replace(/^\.?\/+/, ''));
  if (!entry) throw new ArchiveError(`manifest.json names ${what} ${name.slice(0, 200)}, which is not in the archive`, { entry: name.slice(0, 200) });
  return entry.name;
}

/** The config's diff_ids: the digests of the uncompressed layers, one per layer of manifest.json. */
function diffIdsOf(name: string, config: Buffer, layerCount: number): Digest[] {
  const parsed = configSchema.safeParse(parseJson(name, config));
  if (!parsed.success) throw new ArchiveError(`${name} is not an image config: it has no rootfs.diff_ids`, { entry: name });
  const ids = parsed.data.rootfs.diff_ids;
  if (ids.length !== layerCount) {
    throw new ArchiveError(`${name} names ${ids.length} layers (rootfs.diff_ids) but manifest.json lists ${layerCount}`, {
      entry: name,
      diffIds: ids.length,
      layers: layerCount,
    });
  }
  return ids.map((id) => {
    const digest = tryParseDigest(id);
    if (!digest) throw new ArchiveError(`${name}: rootfs.diff_ids holds "${id.slice(0, 100)}", which is no digest`, { entry: name });
    return digest;
  });
}
