/**
 * The big image as an OCI image layout on disk (oci-layout, index.json, blobs/sha256/...),
 * written once per run: each layer streamed to a file while hashed, then renamed to its digest.
 */
import { createHash } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdir, rename, writeFile } from 'node:fs/promises';
import * as path from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { layerChunks } from './layer-data.ts';
import { BIG_TAG, CONFIG_TYPE, LAYER_TYPE, LAYERS, LAYER_MIB, MANIFEST_TYPE, MiB } from './settings.ts';

export interface Descriptor {
  mediaType: string;
  digest: string;
  size: number;
}

export interface BigImage {
  /** The layout's directory: `oci:<dir>:<tag>` names the image. */
  dir: string;
  tag: string;
  manifest: Descriptor;
  layers: Descriptor[];
  /** Layers + config + manifest: the bytes a push or pull moves. */
  totalBytes: number;
}

const hex = (digest: string) => digest.slice('sha256:'.length);

async function writeBlob(blobsDir: string, mediaType: string, bytes: Buffer): Promise<Descriptor> {
  const digest = `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
  await writeFile(path.join(blobsDir, hex(digest)), bytes);
  return { mediaType, digest, size: bytes.length };
}

async function writeLayer(blobsDir: string, layer: number): Promise<Descriptor> {
  const hash = createHash('sha256');
  const tmp = path.join(blobsDir, `.layer-${layer}.tmp`);
  const hashed = Readable.from(
    (function* () {
      for (const chunk of layerChunks(layer, LAYER_MIB)) {
        hash.update(chunk);
        yield chunk;
      }
    })(),
    { objectMode: false, highWaterMark: 4 * MiB },
  );
  await pipeline(hashed, createWriteStream(tmp));
  const digest = `sha256:${hash.digest('hex')}`;
  await rename(tmp, path.join(blobsDir, hex(digest)));
  return { mediaType: LAYER_TYPE, digest, size: LAYER_MIB * MiB };
}

/** Writes the layout into `dir` (which must exist and be empty). */
export async function writeBigImage(dir: string): Promise<BigImage> {
  const blobsDir = path.join(dir, 'blobs', 'sha256');
  await mkdir(blobsDir, { recursive: true });
  const layers: Descriptor[] = [];
  for (let i = 0; i < LAYERS; i++) layers.push(await writeLayer(blobsDir, i));
  const config = Buffer.from(
    JSON.stringify({ architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: layers.map((l) => l.digest) }, config: {} }),
  );
  const configDesc = await writeBlob(blobsDir, CONFIG_TYPE, config);
  const manifest = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: MANIFEST_TYPE, config: configDesc, layers }));
  const manifestDesc = await writeBlob(blobsDir, MANIFEST_TYPE, manifest);
  const index = {
    schemaVersion: 2,
    mediaType: 'application/vnd.oci.image.index.v1+json',
    manifests: [{ ...manifestDesc, annotations: { 'org.opencontainers.image.ref.name': BIG_TAG } }],
  };
  await writeFile(path.join(dir, 'index.json'), JSON.stringify(index));
  await writeFile(path.join(dir, 'oci-layout'), JSON.stringify({ imageLayoutVersion: '1.0.0' }));
  const totalBytes = layers.reduce((a, l) => a + l.size, 0) + configDesc.size + manifestDesc.size;
  return { dir, tag: BIG_TAG, manifest: manifestDesc, layers, totalBytes };
}
