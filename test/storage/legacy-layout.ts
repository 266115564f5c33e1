import { mkdir, writeFile } from 'node:fs/promises';
import * as path from 'node:path';
import { digestHex, digestOf, parseDigest } from '../../src/oci/digest.ts';
import { ociImage } from '../helpers/oci.ts';

/** Writes an image the way Dockyard's earlier layout stored it: no prefix, JSON revision links. */
export async function writeLegacyImage(root: string, repo: string, tag: string) {
  const image = ociImage({ layers: 2 });
  const manifest = image.manifest;
  const digest = digestOf(manifest);
  const blobs = [image.config, ...image.layers];
  const blob = async (d: string, data: Buffer) => {
    const hex = digestHex(parseDigest(d));
    await mkdir(path.join(root, 'blobs/sha256', hex.slice(0, 2), hex), { recursive: true });
    await writeFile(path.join(root, 'blobs/sha256', hex.slice(0, 2), hex, 'data'), data);
  };
  const link = async (rel: string, content: string) => {
    await mkdir(path.join(root, 'repositories', repo, rel), { recursive: true });
    await writeFile(path.join(root, 'repositories', repo, rel, 'link'), content);
  };
  for (const b of blobs) {
    await blob(b.digest, b.data);
    await link(`_layers/sha256/${digestHex(parseDigest(b.digest))}`, b.digest);
  }
  await blob(digest, manifest);
  await link(`_manifests/revisions/sha256/${digestHex(digest)}`, JSON.stringify({ digest, mediaType: image.mediaType }));
  await link(`_manifests/tags/${tag}/current`, digest);
  return { image, manifest, digest, blobs };
}
