import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import * as path from 'node:path';
import { gzipSync } from 'node:zlib';
import { sha256 } from '../helpers/oci.ts';

/**
 * Fixtures for the skopeo end-to-end test: real gzip'd tar layers with random content (fresh
 * digests on every run, so skopeo's own blob-info cache can never skip an upload), written as
 * OCI image layouts that skopeo reads with the `oci:` transport.
 */

export const MediaType = {
  ociManifest: 'application/vnd.oci.image.manifest.v1+json',
  ociIndex: 'application/vnd.oci.image.index.v1+json',
  ociConfig: 'application/vnd.oci.image.config.v1+json',
  ociLayer: 'application/vnd.oci.image.layer.v1.tar+gzip',
  dockerManifest: 'application/vnd.docker.distribution.manifest.v2+json',
  dockerConfig: 'application/vnd.docker.container.image.v1+json',
  dockerLayer: 'application/vnd.docker.image.rootfs.diff.tar.gzip',
} as const;

export interface Blob {
  data: Buffer;
  digest: string;
}

export interface Descriptor {
  mediaType: string;
  digest: string;
  size: number;
  platform?: { architecture: string; os: string };
  annotations?: Record<string, string>;
}

export interface Image {
  mediaType: string;
  manifest: Blob;
  config: Blob;
  layers: Blob[];
}

export interface Index {
  index: Blob;
  images: Image[];
}

export function blob(data: Buffer): Blob {
  return { data, digest: sha256(data) };
}

export function descriptor(mediaType: string, b: Blob, extra: Partial<Descriptor> = {}): Descriptor {
  return { mediaType, digest: b.digest, size: b.data.length, ...extra };
}

/** A minimal POSIX ustar archive of regular files. */
export function tar(files: { name: string; data: Buffer }[]): Buffer {
  const parts: Buffer[] = [];
  for (const file of files) {
    const header = Buffer.alloc(512);
    const field = (offset: number, length: number, value: string) => header.write(value, offset, length, 'ascii');
    const octal = (offset: number, length: number, value: number) => field(offset, length, value.toString(8).padStart(length - 1, '0'));
    field(0, 100, file.name);
    octal(100, 8, 0o644);
    octal(108, 8, 0);
    octal(116, 8, 0);
    octal(124, 12, file.data.length);
    octal(136, 12, 1_700_000_000);
    field(148, 8, '        ');
    field(156, 1, '0');
    field(257, 6, 'ustar\0');
    field(263, 2, '00');
    let sum = 0;
    for (const byte of header) sum += byte;
    field(148, 8, `${sum.toString(8).padStart(6, '0')}\0 `);
    parts.push(header, file.data, Buffer.alloc((512 - (file.data.length % 512)) % 512));
  }
  parts.push(Buffer.alloc(1024));
  return Buffer.concat(parts);
}

/** One image with `layerCount` random gzip'd tar layers, in OCI or Docker schema2 form. */
export function buildImage(format: 'oci' | 'docker', layerCount: number, architecture = 'amd64'): Image {
  const types = format === 'oci'
    ? { manifest: MediaType.ociManifest, config: MediaType.ociConfig, layer: MediaType.ociLayer }
    : { manifest: MediaType.dockerManifest, config: MediaType.dockerConfig, layer: MediaType.dockerLayer };
  const diffIds: string[] = [];
  const layers: Blob[] = [];
  for (let i = 0; i < layerCount; i++) {
    const size = 3000 + Math.floor(Math.random() * 5000);
    const raw = tar([{ name: `layer${i}/random-${randomBytes(4).toString('hex')}.bin`, data: randomBytes(size) }]);
    diffIds.push(sha256(raw));
    layers.push(blob(gzipSync(raw)));
  }
  const config = blob(Buffer.from(JSON.stringify({
    architecture,
    os: 'linux',
    created: new Date().toISOString(),
    config: { Env: [`DOCKYARD_E2E_NONCE=${randomBytes(8).toString('hex')}`] },
    rootfs: { type: 'layers', diff_ids: diffIds },
    history: diffIds.map((_, i) => ({ created_by: `dockyard e2e layer ${i}` })),
  })));
  const manifest = blob(Buffer.from(JSON.stringify({
    schemaVersion: 2,
    mediaType: types.manifest,
    config: descriptor(types.config, config),
    layers: layers.map((l) => descriptor(types.layer, l)),
  })));
  return { mediaType: types.manifest, manifest, config, layers };
}

/** A two-platform OCI index (linux/amd64 + linux/arm64), each platform its own OCI image. */
export function buildIndex(): Index {
  const images = [buildImage('oci', 2, 'amd64'), buildImage('oci', 2, 'arm64')];
  const index = blob(Buffer.from(JSON.stringify({
    schemaVersion: 2,
    mediaType: MediaType.ociIndex,
    manifests: images.map((img, i) => descriptor(img.mediaType, img.manifest, {
      platform: { architecture: i === 0 ? 'amd64' : 'arm64', os: 'linux' },
    })),
  })));
  return { index, images };
}

export function imageBlobs(image: Image): Blob[] {
  return [image.manifest, image.config, ...image.layers];
}

export function indexBlobs(index: Index): Blob[] {
  return [index.index, ...index.images.flatMap(imageBlobs)];
}

/**
 * Writes an OCI image layout holding `blobs`, whose index.json lists `top` (tagged `tag` when
 * given; skopeo finds an untagged manifest only when it is the layout's one manifest).
 */
export async function writeLayout(dir: string, blobs: Blob[], top: Descriptor, tag?: string): Promise<void> {
  await mkdir(path.join(dir, 'blobs', 'sha256'), { recursive: true });
  for (const b of blobs) await writeFile(path.join(dir, 'blobs', 'sha256', hex(b.digest)), b.data);
  await writeFile(path.join(dir, 'oci-layout'), JSON.stringify({ imageLayoutVersion: '1.0.0' }));
  const entry = tag === undefined ? top : { ...top, annotations: { 'org.opencontainers.image.ref.name': tag } };
  await writeFile(path.join(dir, 'index.json'), JSON.stringify({ schemaVersion: 2, manifests: [entry] }));
}

/** Every blob file of an OCI layout (digest → bytes), and its index.json. */
export async function readLayout(dir: string): Promise<{ blobs: Map<string, Buffer>; index: { manifests: Descriptor[] } }> {
  const blobs = new Map<string, Buffer>();
  const blobDir = path.join(dir, 'blobs', 'sha256');
  for (const name of await readdir(blobDir)) blobs.set(`sha256:${name}`, await readFile(path.join(blobDir, name)));
  const index = JSON.parse(await readFile(path.join(dir, 'index.json'), 'utf8')) as { manifests: Descriptor[] };
  return { blobs, index };
}

/** A `dir:` transport copy: manifest.json plus one file per blob, named by its hex digest. */
export async function readDirCopy(dir: string): Promise<{ manifest: Buffer; blobs: Map<string, Buffer> }> {
  const blobs = new Map<string, Buffer>();
  for (const name of await readdir(dir)) {
    if (/^[0-9a-f]{64}$/.test(name)) blobs.set(`sha256:${name}`, await readFile(path.join(dir, name)));
  }
  return { manifest: await readFile(path.join(dir, 'manifest.json')), blobs };
}

function hex(digest: string): string {
  return digest.slice('sha256:'.length);
}

/**
 * Runs skopeo with every piece of per-user state (HOME, XDG dirs, auth file, registries.conf,
 * registries.d, policy, temp files) in `sandbox`, so runs share nothing with the machine or each other.
 * (As root, skopeo's blob-info cache still lives in /var/lib/containers/cache; it has no flag
 * for that, which is why every layer is random.)
 */
export class Skopeo {
  private constructor(private readonly sandbox: string, private readonly env: NodeJS.ProcessEnv) {}

  static async create(sandbox: string): Promise<Skopeo> {
    for (const d of ['home', 'config', 'data', 'cache', 'runtime', 'tmp', 'registries.d']) {
      await mkdir(path.join(sandbox, d), { recursive: true, mode: 0o700 });
    }
    await writeFile(path.join(sandbox, 'policy.json'), JSON.stringify({ default: [{ type: 'insecureAcceptAnything' }] }));
    await writeFile(path.join(sandbox, 'registries.conf'), 'unqualified-search-registries = []\n');
    // Signature lookaside (which `skopeo delete` also cleans up) in the sandbox, not /var/lib/containers/sigstore.
    await writeFile(path.join(sandbox, 'registries.d', 'default.yaml'), `default-docker:\n  lookaside: file://${path.join(sandbox, 'sigstore')}\n`);
    const env: NodeJS.ProcessEnv = {
      PATH: process.env.PATH ?? '/usr/bin:/bin',
      HOME: path.join(sandbox, 'home'),
      XDG_CONFIG_HOME: path.join(sandbox, 'config'),
      XDG_DATA_HOME: path.join(sandbox, 'data'),
      XDG_CACHE_HOME: path.join(sandbox, 'cache'),
      XDG_RUNTIME_DIR: path.join(sandbox, 'runtime'),
      TMPDIR: path.join(sandbox, 'tmp'),
      REGISTRY_AUTH_FILE: path.join(sandbox, 'auth.json'),
      DOCKER_CONFIG: path.join(sandbox, 'home', '.docker'),
      CONTAINERS_REGISTRIES_CONF: path.join(sandbox, 'registries.conf'),
    };
    return new Skopeo(sandbox, env);
  }

  /** Runs `skopeo <args>`; rejects with skopeo's stderr on a non-zero exit or after 60 s. */
  run(...args: string[]): Promise<string> {
    const global = ['--policy', path.join(this.sandbox, 'policy.json'), '--registries.d', path.join(this.sandbox, 'registries.d'), '--tmpdir', path.join(this.sandbox, 'tmp')];
    if (process.env.DOCKYARD_E2E_DEBUG) global.push('--debug');
    return new Promise((resolve, reject) => {
      execFile('skopeo', [...global, ...args], { env: this.env, timeout: 60_000, killSignal: 'SIGKILL', maxBuffer: 16 << 20 }, (err, stdout, stderr) => {
        if (process.env.DOCKYARD_E2E_DEBUG) process.stderr.write(stderr);
        if (err) reject(new Error(`skopeo ${args.join(' ')} failed: ${err.message}\n${stderr}`));
        else resolve(stdout);
      });
    });
  }
}
