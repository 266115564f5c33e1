/** The distinct small images: a ~1 KiB layer, a config and an OCI manifest each, built in memory once. */
import { createHash } from 'node:crypto';
import { CONFIG_TYPE, LAYER_TYPE, MANIFEST_TYPE, SMALL_LAYER_BYTES } from './settings.ts';

export interface Blob {
  digest: string;
  bytes: Buffer;
}

export interface SmallImage {
  tag: string;
  layer: Blob;
  config: Blob;
  manifest: Buffer;
}

const blob = (bytes: Buffer): Blob => ({ digest: `sha256:${createHash('sha256').update(bytes).digest('hex')}`, bytes });

/** Layer bytes of image `i`: a seeded xorshift32 stream, so every layer (and config, manifest) differs. */
function layerBytes(i: number): Buffer {
  const b = Buffer.alloc(SMALL_LAYER_BYTES);
  let x = (Math.imul(i + 1, 0x9e3779b1) ^ 0x5bd1e995) >>> 0 || 1;
  for (let off = 0; off + 4 <= b.length; off += 4) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    b.writeUInt32LE(x >>> 0, off);
  }
  return b;
}

export function smallImages(count: number): SmallImage[] {
  const out: SmallImage[] = [];
  for (let i = 0; i < count; i++) {
    const layer = blob(layerBytes(i));
    const config = blob(Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: [layer.digest] }, config: { Labels: { image: String(i) } } })));
    const manifest = Buffer.from(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: MANIFEST_TYPE,
        config: { mediaType: CONFIG_TYPE, digest: config.digest, size: config.bytes.length },
        layers: [{ mediaType: LAYER_TYPE, digest: layer.digest, size: layer.bytes.length }],
      }),
    );
    out.push({ tag: `i${i}`, layer, config, manifest });
  }
  return out;
}
