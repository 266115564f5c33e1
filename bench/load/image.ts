/** A distinct small image per cycle: a random layer, a config naming it, and an OCI manifest. */
import { createHash, randomBytes } from 'node:crypto';
import { LAYER_BYTES, MANIFEST_TYPE } from './settings.ts';

export const sha256 = (b: Buffer): string => `sha256:${createHash('sha256').update(b).digest('hex')}`;

export interface Blob {
  bytes: Buffer;
  digest: string;
}

export interface Image {
  layer: Blob;
  config: Blob;
  manifest: Blob;
}

const blob = (bytes: Buffer): Blob => ({ bytes, digest: sha256(bytes) });

export function makeImage(): Image {
  const layer = blob(randomBytes(LAYER_BYTES));
  const config = blob(Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: [layer.digest] } })));
  const manifest = blob(
    Buffer.from(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: MANIFEST_TYPE,
        config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: config.digest, size: config.bytes.length },
        layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar', digest: layer.digest, size: layer.bytes.length }],
      }),
    ),
  );
  return { layer, config, manifest };
}
