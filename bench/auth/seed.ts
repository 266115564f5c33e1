/**
 * Seeds one small image by tag with a Bearer token (bench/requests/seed.ts sends no
 * Authorization header), and reads the manifest back with it: the rows must measure 200s.
 */
import { makeImage, type Blob } from '../load/image.ts';
import { MANIFEST_TYPE, REPO, TAG } from './settings.ts';

async function expect(res: Response, status: number, what: string): Promise<void> {
  const body = await res.text();
  if (res.status !== status) throw new Error(`${what}: expected ${status}, got ${res.status}: ${body.slice(0, 300)}`);
}

async function pushBlob(base: string, auth: Record<string, string>, blob: Blob): Promise<void> {
  const post = await fetch(`${base}/v2/${REPO}/blobs/uploads/`, { method: 'POST', headers: { ...auth, 'content-length': '0' } });
  await expect(post, 202, 'POST upload');
  const loc = new URL(post.headers.get('location') ?? '', base);
  loc.searchParams.set('digest', blob.digest);
  const put = await fetch(loc, { method: 'PUT', body: new Uint8Array(blob.bytes), headers: { ...auth, 'content-type': 'application/octet-stream' } });
  await expect(put, 201, 'PUT upload');
}

/** Pushes the image as `REPO:TAG`; returns the manifest's size. */
export async function seedWithToken(base: string, token: string): Promise<number> {
  const auth = { authorization: `Bearer ${token}` };
  const { layer, config, manifest } = makeImage();
  await pushBlob(base, auth, layer);
  await pushBlob(base, auth, config);
  const url = `${base}/v2/${REPO}/manifests/${TAG}`;
  await expect(await fetch(url, { method: 'PUT', body: new Uint8Array(manifest.bytes), headers: { ...auth, 'content-type': MANIFEST_TYPE } }), 201, 'PUT manifest');
  const get = await fetch(url, { headers: { ...auth, accept: MANIFEST_TYPE } });
  const got = Buffer.from(await get.arrayBuffer());
  if (get.status !== 200 || !got.equals(manifest.bytes)) throw new Error(`manifest read back: ${get.status}, ${got.length} bytes`);
  const anonymous = await fetch(url, { headers: { accept: MANIFEST_TYPE } });
  await expect(anonymous, 401, 'GET manifest without a token');
  return manifest.bytes.length;
}
