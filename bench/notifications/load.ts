/**
 * The registry client and the load generator (undici, keep-alive): the image pushed and tagged,
 * manifest pulls by tag, pulls with a fixed number in flight, and the warm-up before a measurement.
 */
import { createHash } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Pool } from 'undici';
import { CONCURRENCY, DRAIN_TIMEOUT_MS, nowMs, REQUEST_TIMEOUT_MS, WARMUP_OPS } from './common.ts';
import { S, type Receiver } from './receiver.ts';

const MANIFEST_ACCEPT = [
  'application/vnd.oci.image.manifest.v1+json',
  'application/vnd.docker.distribution.manifest.v2+json',
].join(', ');

interface Content {
  manifest: Buffer;
  blobs: { digest: string; data: Buffer }[];
}

function sha256(data: Buffer): string {
  return `sha256:${createHash('sha256').update(data).digest('hex')}`;
}

function imageContent(): Content {
  const config = Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: [] } }));
  const layer = Buffer.alloc(1024, 7);
  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
      config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: sha256(config), size: config.length },
      layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', digest: sha256(layer), size: layer.length }],
    }),
  );
  return { manifest, blobs: [{ digest: sha256(config), data: config }, { digest: sha256(layer), data: layer }] };
}
const CONTENT = imageContent();

async function expect(pool: Pool, opts: Parameters<Pool['request']>[0], want: number, what: string) {
  const res = await pool.request({ headersTimeout: REQUEST_TIMEOUT_MS, bodyTimeout: REQUEST_TIMEOUT_MS, ...opts });
  const body = await res.body.text();
  if (res.statusCode !== want) throw new Error(`${what}: expected ${want}, got ${res.statusCode}: ${body.slice(0, 300)}`);
  return res;
}

async function pushBlobs(pool: Pool, base: string, repo: string): Promise<void> {
  for (const blob of CONTENT.blobs) {
    const post = await expect(pool, { path: `/v2/${repo}/blobs/uploads/`, method: 'POST', headers: { 'content-length': '0' } }, 202, 'POST upload');
    const loc = post.headers.location;
    if (typeof loc !== 'string') throw new Error('POST upload: no Location');
    const url = new URL(loc, base);
    url.searchParams.set('digest', blob.digest);
    await expect(
      pool,
      { path: `${url.pathname}${url.search}`, method: 'PUT', body: blob.data, headers: { 'content-type': 'application/octet-stream' } },
      201,
      'PUT upload',
    );
  }
}

/** Pushes the image and tags it with every tag in `tags`; waits until the receiver has every manifest push event. */
export async function setupRepo(pool: Pool, base: string, receiver: Receiver, repo: string, tags: string[]): Promise<void> {
  await pushBlobs(pool, base, repo);
  const before = receiver.get(S.manifestPushes);
  let next = 0;
  const putOne = async () => {
    for (let i = next++; i < tags.length; i = next++) {
      await expect(
        pool,
        {
          path: `/v2/${repo}/manifests/${tags[i]}`,
          method: 'PUT',
          body: CONTENT.manifest,
          headers: { 'content-type': 'application/vnd.oci.image.manifest.v1+json' },
        },
        201,
        `PUT manifest ${tags[i]}`,
      );
    }
  };
  await Promise.all(Array.from({ length: Math.min(8, tags.length) }, putOne));
  if (!(await receiver.waitFor(S.manifestPushes, before + tags.length, 60_000))) {
    throw new Error(`setup: only ${receiver.get(S.manifestPushes) - before} of ${tags.length} manifest push events arrived`);
  }
}

export async function pull(pool: Pool, repo: string, tag: string): Promise<boolean> {
  try {
    const res = await pool.request({
      path: `/v2/${repo}/manifests/${tag}`,
      method: 'GET',
      headers: { accept: MANIFEST_ACCEPT },
      headersTimeout: REQUEST_TIMEOUT_MS,
      bodyTimeout: REQUEST_TIMEOUT_MS,
    });
    await res.body.dump({ limit: 1 << 20 });
    return res.statusCode === 200;
  } catch {
    return false;
  }
}

interface LoadResult {
  ok: number;
  failed: number;
  startMs: number;
  /** When the last response had been read. */
  endMs: number;
}

/** Pulls with `concurrency` in flight until `count` pulls were issued or `durationMs` passed. */
export async function drive(pool: Pool, repo: string, tag: string, concurrency: number, count: number, durationMs: number): Promise<LoadResult> {
  let issued = 0;
  let ok = 0;
  let failed = 0;
  const startMs = nowMs();
  const stopAt = startMs + durationMs;
  const loop = async () => {
    while (issued < count && nowMs() < stopAt) {
      issued++;
      if (await pull(pool, repo, tag)) ok++;
      else failed++;
    }
  };
  await Promise.all(Array.from({ length: concurrency }, loop));
  return { ok, failed, startMs, endMs: nowMs() };
}

/** Warm-up pulls on `repo`, then waits until all their events are in, so none leaks into the measurement. */
export async function warmUp(pool: Pool, receiver: Receiver, repo: string, tag: string): Promise<void> {
  if (WARMUP_OPS === 0) return;
  await receiver.phase(repo);
  const load = await drive(pool, repo, tag, CONCURRENCY, WARMUP_OPS, 60_000);
  if (load.failed > 0) throw new Error(`warm-up: ${load.failed} pulls failed`);
  if (!(await receiver.waitFor(S.matched, load.ok, DRAIN_TIMEOUT_MS))) {
    throw new Error(`warm-up: only ${receiver.get(S.matched)} of ${load.ok} events arrived`);
  }
  await sleep(200);
}
