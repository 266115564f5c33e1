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

/** Media types the tests use, spelled once. */
export const MediaTypes = {
  ociManifest: 'application/vnd.oci.image.manifest.v1+json',
  ociIndex: 'application/vnd.oci.image.index.v1+json',
  ociConfig: 'application/vnd.oci.image.config.v1+json',
  ociLayer: 'application/vnd.oci.image.layer.v1.tar+gzip',
  ociEmpty: 'application/vnd.oci.empty.v1+json',
  dockerManifest: 'application/vnd.docker.distribution.manifest.v2+json',
  dockerManifestList: 'application/vnd.docker.distribution.manifest.list.v2+json',
  dockerConfig: 'application/vnd.docker.container.image.v1+json',
  dockerLayer: 'application/vnd.docker.image.rootfs.diff.tar.gzip',
} as const;

/** A descriptor of something pushed as a manifest (image, index). */
export interface ManifestDescriptor {
  mediaType: string;
  digest: string;
  size: number;
  platform?: { architecture: string; os: string };
  artifactType?: string;
  annotations?: Record<string, string>;
}

export function manifestDescriptor(m: { manifest: Buffer; digest: string; mediaType: string }): ManifestDescriptor {
  return { mediaType: m.mediaType, digest: m.digest, size: m.manifest.length };
}

/** A Docker schema2 image manifest over random layers (no blob is pushed here). */
export function dockerImage(opts: { layers?: number } = {}): ImageFixture {
  const configData = Buffer.from(JSON.stringify({ architecture: 'arm64', os: 'linux', nonce: randomBytes(8).toString('hex') }));
  const config = { data: configData, digest: sha256(configData) };
  const layers = Array.from({ length: opts.layers ?? 1 }, () => randomBlob(300));
  const mediaType = MediaTypes.dockerManifest;
  const manifest = Buffer.from(
    JSON.stringify(
      {
        schemaVersion: 2,
        mediaType,
        config: { mediaType: MediaTypes.dockerConfig, digest: config.digest, size: configData.length },
        layers: layers.map((l) => ({ mediaType: MediaTypes.dockerLayer, digest: l.digest, size: l.data.length })),
      },
      null,
      3, // unusual indentation: the registry must serve these exact bytes back
    ),
  );
  return { config, layers, manifest, digest: sha256(manifest), mediaType };
}

export interface IndexFixture {
  manifest: Buffer;
  digest: string;
  mediaType: string;
}

/** An OCI index (or Docker manifest list) over already-built child manifests. */
export function imageIndex(
  children: ManifestDescriptor[],
  opts: {
    mediaType?: string;
    subject?: ManifestDescriptor;
    artifactType?: string;
    annotations?: Record<string, string>;
    /** Leave out the `mediaType` field (the Content-Type alone then says what it is). */
    omitMediaTypeField?: boolean;
  } = {},
): IndexFixture {
  const mediaType = opts.mediaType ?? MediaTypes.ociIndex;
  const body: Record<string, unknown> = { schemaVersion: 2 };
  if (!opts.omitMediaTypeField) body.mediaType = mediaType;
  if (opts.artifactType !== undefined) body.artifactType = opts.artifactType;
  body.manifests = children.map((c, i) => ({ platform: { architecture: i % 2 ? 'arm64' : 'amd64', os: 'linux' }, ...c }));
  if (opts.subject) body.subject = opts.subject;
  if (opts.annotations) body.annotations = opts.annotations;
  const manifest = Buffer.from(JSON.stringify(body));
  return { manifest, digest: sha256(manifest), mediaType };
}
