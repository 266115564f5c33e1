/**
 * What the clients push: small images (config + one 4 KiB layer + an OCI manifest, every byte
 * unique per image so nothing is deduplicated) and one big streamed blob.
 */
import { createHash, randomBytes } from 'node:crypto';
import type * as http from 'node:http';
import { Readable } from 'node:stream';
import { expect, locationOf, request, withDigest } from './http.ts';
import { LAYER_BYTES, MiB } from './settings.ts';
import { seedBlock } from '../lib/seed-block.ts';

const sha256 = (b: Buffer): string => `sha256:${createHash('sha256').update(b).digest('hex')}`;

/** Monolithic blob upload: POST /blobs/uploads/ -> 202, PUT <location>?digest= with the body -> 201. */
async function pushBlob(agent: http.Agent, base: URL, repo: string, blob: Buffer): Promise<string> {
  const digest = sha256(blob);
  const post = expect(await request(agent, new URL(`/v2/${repo}/blobs/uploads/`, base), 'POST', { 'Content-Length': '0' }), 202, 'POST upload');
  const put = await request(
    agent,
    withDigest(locationOf(post, base, 'POST upload'), digest),
    'PUT',
    { 'Content-Type': 'application/octet-stream', 'Content-Length': String(blob.length) },
    blob,
  );
  expect(put, 201, 'PUT upload');
  return digest;
}

/** One image: its config blob, its layer, then its manifest under tag `tag`. Returns the manifest digest. */
export async function pushImage(agent: http.Agent, base: URL, repo: string, tag: string): Promise<string> {
  const config = Buffer.from(
    JSON.stringify({
      architecture: 'amd64',
      os: 'linux',
      config: { Env: [`BENCH_IMAGE=${repo}:${tag}`, `NONCE=${randomBytes(8).toString('hex')}`] },
      rootfs: { type: 'layers', diff_ids: [] as string[] },
    }),
  );
  const layer = randomBytes(LAYER_BYTES);
  const configDigest = await pushBlob(agent, base, repo, config);
  const layerDigest = await pushBlob(agent, base, repo, layer);
  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
      config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: configDigest, size: config.length },
      layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar', digest: layerDigest, size: layer.length }],
    }),
  );
  const put = await request(
    agent,
    new URL(`/v2/${repo}/manifests/${tag}`, base),
    'PUT',
    { 'Content-Type': 'application/vnd.oci.image.manifest.v1+json', 'Content-Length': String(manifest.length) },
    manifest,
  );
  expect(put, 201, `PUT manifest ${repo}:${tag}`);
  return sha256(manifest);
}

// Each MiB of a blob is this block with its index stamped in.
const SEED = seedBlock();

function* chunks(mib: number, salt: number): Generator<Buffer> {
  for (let i = 0; i < mib; i++) {
    const chunk = Buffer.allocUnsafe(MiB);
    SEED.copy(chunk);
    chunk.writeUInt32LE(i, 0);
    chunk.writeUInt32LE(salt >>> 0, 4);
    yield chunk;
  }
}

/** The big blob's digest (computed before the timed push, never held whole). */
export function bigBlobDigest(mib: number, salt: number): string {
  const h = createHash('sha256');
  for (const c of chunks(mib, salt)) h.update(c);
  return `sha256:${h.digest('hex')}`;
}

/** POST -> one chunked streaming PATCH of the whole blob -> PUT ?digest= (the flow of bench/blob). */
export async function pushBigBlob(agent: http.Agent, base: URL, repo: string, mib: number, salt: number, digest: string): Promise<void> {
  const post = expect(await request(agent, new URL(`/v2/${repo}/blobs/uploads/`, base), 'POST', { 'Content-Length': '0' }), 202, 'POST upload');
  const patch = await request(
    agent,
    locationOf(post, base, 'POST upload'),
    'PATCH',
    { 'Content-Type': 'application/octet-stream', 'Transfer-Encoding': 'chunked' },
    Readable.from(chunks(mib, salt), { objectMode: false, highWaterMark: 4 * MiB }),
  );
  expect(patch, 202, 'PATCH upload');
  const range = patch.headers.range;
  if (range !== `0-${mib * MiB - 1}`) throw new Error(`PATCH: Range ${range}, expected 0-${mib * MiB - 1}`);
  const put = await request(agent, withDigest(locationOf(patch, base, 'PATCH'), digest), 'PUT', { 'Content-Length': '0' });
  expect(put, 201, 'PUT upload (big blob)');
}
