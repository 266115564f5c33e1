/**
 * Pushing the small images over HTTP: per image, POST an upload and PUT ?digest= the whole blob
 * (layer, then config), then PUT the manifest by tag. Each client is one undici Client: one
 * keep-alive connection, one request at a time. Any unexpected status fails the row.
 */
import { Client } from 'undici';
import type { Blob, SmallImage } from './small-images.ts';
import { MANIFEST_TYPE, SMALL_REPO, SMALL_ROW_TIMEOUT_MS } from './settings.ts';

async function call(client: Client, what: string, opts: { path: string; method: 'POST' | 'PUT'; headers: Record<string, string>; body?: Buffer }, want: number) {
  const res = await client.request({ ...opts, headersTimeout: 30_000, bodyTimeout: 30_000 });
  const text = await res.body.text();
  if (res.statusCode !== want) throw new Error(`${what}: expected ${want}, got ${res.statusCode}: ${text.slice(0, 300)}`);
  return res;
}

async function pushBlob(client: Client, base: string, blob: Blob): Promise<void> {
  const post = await call(client, 'POST upload', { path: `/v2/${SMALL_REPO}/blobs/uploads/`, method: 'POST', headers: { 'content-length': '0' } }, 202);
  const location = post.headers.location;
  if (typeof location !== 'string') throw new Error('POST upload: no Location header');
  const url = new URL(location, base);
  url.searchParams.set('digest', blob.digest);
  await call(client, 'PUT upload', { path: `${url.pathname}${url.search}`, method: 'PUT', headers: { 'content-type': 'application/octet-stream' }, body: blob.bytes }, 201);
}

async function pushImage(client: Client, base: string, image: SmallImage): Promise<void> {
  await pushBlob(client, base, image.layer);
  await pushBlob(client, base, image.config);
  await call(client, 'PUT manifest', { path: `/v2/${SMALL_REPO}/manifests/${image.tag}`, method: 'PUT', headers: { 'content-type': MANIFEST_TYPE }, body: image.manifest }, 201);
}

/** Seconds for `clients` clients to push every image, taking the next one from a shared queue. */
export async function pushSmallImages(base: string, images: SmallImage[], clients: number): Promise<number> {
  const pool = Array.from({ length: clients }, () => new Client(base, { keepAliveTimeout: 60_000, pipelining: 1 }));
  let next = 0;
  const worker = async (client: Client) => {
    for (let i = next++; i < images.length; i = next++) await pushImage(client, base, images[i] as SmallImage);
  };
  const started = process.hrtime.bigint();
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`small-image pushes took over ${SMALL_ROW_TIMEOUT_MS / 1000} s`)), SMALL_ROW_TIMEOUT_MS);
  });
  try {
    await Promise.race([Promise.all(pool.map(worker)), timeout]);
    return Number(process.hrtime.bigint() - started) / 1e9;
  } finally {
    clearTimeout(timer);
    next = images.length; // stop the other workers after a failure
    await Promise.all(pool.map((c) => c.destroy()));
  }
}
