/** Seeds one small image by tag (a 1 MiB layer, a config, an OCI manifest) over HTTP with fetch. */
import { createHash } from 'node:crypto';
import { seedBlock } from '../lib/seed-block.ts';
import { BLOB_BYTES, MANIFEST_TYPE, REPO, TAG } from './settings.ts';

const sha256 = (b: Buffer) => `sha256:${createHash('sha256').update(b).digest('hex')}`;

export interface Image {
  layerDigest: string;
  manifestDigest: string;
  manifestBytes: number;
}

function imageParts() {
  const layer = Buffer.alloc(BLOB_BYTES);
  seedBlock().copy(layer);
  const config = Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: [sha256(layer)] } }));
  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: MANIFEST_TYPE,
      config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: sha256(config), size: config.length },
      layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar', digest: sha256(layer), size: layer.length }],
    }),
  );
  return { layer, config, manifest };
}

async function expect(res: Response, status: number, what: string): Promise<void> {
  const body = await res.text();
  if (res.status !== status) throw new Error(`${what}: expected ${status}, got ${res.status}: ${body.slice(0, 300)}`);
}

/** POST to open an upload, then one PUT with the whole blob: the flow both servers accept. */
async function pushBlob(base: string, blob: Buffer): Promise<void> {
  const post = await fetch(`${base}/v2/${REPO}/blobs/uploads/`, { method: 'POST', headers: { 'content-length': '0' } });
  await expect(post, 202, 'POST upload');
  const loc = new URL(post.headers.get('location') ?? '', base);
  loc.searchParams.set('digest', sha256(blob));
  const put = await fetch(loc, { method: 'PUT', body: new Uint8Array(blob), headers: { 'content-type': 'application/octet-stream' } });
  await expect(put, 201, 'PUT upload');
}

export async function seedImage(base: string): Promise<Image> {
  const { layer, config, manifest } = imageParts();
  await pushBlob(base, layer);
  await pushBlob(base, config);
  const put = await fetch(`${base}/v2/${REPO}/manifests/${TAG}`, { method: 'PUT', body: new Uint8Array(manifest), headers: { 'content-type': MANIFEST_TYPE } });
  await expect(put, 201, 'PUT manifest');
  // Read back once: the rows must measure successful replies (wrk counts non-2xx, the report shows them).
  const get = await fetch(`${base}/v2/${REPO}/manifests/${TAG}`, { headers: { accept: MANIFEST_TYPE } });
  const got = Buffer.from(await get.arrayBuffer());
  if (get.status !== 200 || !got.equals(manifest)) throw new Error(`manifest read back: ${get.status}, ${got.length} bytes`);
  return { layerDigest: sha256(layer), manifestDigest: sha256(manifest), manifestBytes: manifest.length };
}
