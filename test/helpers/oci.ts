import { createHash, randomBytes } from 'node:crypto';

/** Builders for test content: digests are computed at test time, never hard-coded. */
export function sha256(data: Buffer | string): string {
  return `sha256:${createHash('sha256').update(data).digest('hex')}`;
}

export function sha512(data: Buffer | string): string {
  return `sha512:${createHash('sha512').update(data).digest('hex')}`;
}

export function randomBlob(size = 1024): { data: Buffer; digest: string } {
  const data = randomBytes(size);
  return { data, digest: sha256(data) };
}

export interface ImageFixture {
  config: { data: Buffer; digest: string };
  layers: { data: Buffer; digest: string }[];
  manifest: Buffer;
  digest: string;
  mediaType: string;
}

/** A small OCI image manifest over random layers (no blob is pushed here). */
export function ociImage(opts: { layers?: number; subject?: { mediaType: string; digest: string; size: number }; artifactType?: string; configMediaType?: string; annotations?: Record<string, string> } = {}): ImageFixture {
  const configData = Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', nonce: randomBytes(8).toString('hex') }));
  const config = { data: configData, digest: sha256(configData) };
  const layers = Array.from({ length: opts.layers ?? 2 }, () => randomBlob(512));
  const mediaType = 'application/vnd.oci.image.manifest.v1+json';
  const body: Record<string, unknown> = {
    schemaVersion: 2,
    mediaType,
    config: { mediaType: opts.configMediaType ?? 'application/vnd.oci.image.config.v1+json', digest: config.digest, size: configData.length },
    layers: layers.map((l) => ({ mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', digest: l.digest, size: l.data.length })),
  };
  if (opts.artifactType) body.artifactType = opts.artifactType;
  if (opts.subject) body.subject = opts.subject;
  if (opts.annotations) body.annotations = opts.annotations;
  const manifest = Buffer.from(JSON.stringify(body));
  return { config, layers, manifest, digest: sha256(manifest), mediaType };
}
