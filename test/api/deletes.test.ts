import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import { expectError } from '../helpers/assertions.ts';
import { Client } from '../helpers/client.ts';
import { ociImage, randomBlob, sha256 } from '../helpers/oci.ts';
import { useTestRegistry } from '../helpers/registry.ts';

async function tags(c: Client, name: string): Promise<string[]> {
  const res = await c.fetch(`/v2/${name}/tags/list`);
  assert.equal(res.status, 200);
  return ((await res.json()) as { tags: string[] }).tags;
}

describe('deleting manifests and blobs', () => {
  const h = useTestRegistry();

  it('deletes a tag with 202 and leaves the manifest and its other tags in place', async () => {
    const image = await h.client.pushImage('del/tag', 'v1', ociImage({ layers: 1 }));
    assert.equal((await h.client.pushManifest('del/tag', 'latest', image.manifest, image.mediaType)).status, 201);
    const res = await h.client.fetch('/v2/del/tag/manifests/v1', { method: 'DELETE' });
    assert.equal(res.status, 202);
    await res.arrayBuffer();
    await expectError(await h.client.fetch('/v2/del/tag/manifests/v1'), 404, 'MANIFEST_UNKNOWN');
    assert.equal((await h.client.fetch('/v2/del/tag/manifests/latest', { method: 'HEAD' })).status, 200);
    assert.equal((await h.client.fetch(`/v2/del/tag/manifests/${image.digest}`, { method: 'HEAD' })).status, 200);
    assert.deepEqual(await tags(h.client, 'del/tag'), ['latest']);
  });

  it('deletes a manifest by digest with 202, removing every tag that pointed at it', async () => {
    const image = await h.client.pushImage('del/digest', 'v1', ociImage({ layers: 1 }));
    await h.client.pushManifest('del/digest', 'v1.0', image.manifest, image.mediaType);
    const other = await h.client.pushImage('del/digest', 'other', ociImage({ layers: 1 }));
    const res = await h.client.fetch(`/v2/del/digest/manifests/${image.digest}`, { method: 'DELETE' });
    assert.equal(res.status, 202);
    await res.arrayBuffer();
    await expectError(await h.client.fetch(`/v2/del/digest/manifests/${image.digest}`), 404, 'MANIFEST_UNKNOWN');
    await expectError(await h.client.fetch('/v2/del/digest/manifests/v1'), 404, 'MANIFEST_UNKNOWN');
    await expectError(await h.client.fetch('/v2/del/digest/manifests/v1.0'), 404, 'MANIFEST_UNKNOWN');
    assert.equal((await h.client.fetch(`/v2/del/digest/manifests/${image.digest}`, { method: 'HEAD' })).status, 404);
    assert.deepEqual(await tags(h.client, 'del/digest'), ['other']);
    assert.equal((await h.client.fetch(`/v2/del/digest/manifests/${other.digest}`, { method: 'HEAD' })).status, 200);
  });

  it('deletes a manifest from one repository only', async () => {
    const image = ociImage({ layers: 1 });
    await h.client.pushImage('del/shared-a', 'v1', image);
    await h.client.pushImage('del/shared-b', 'v1', image);
    assert.equal((await h.client.fetch(`/v2/del/shared-a/manifests/${image.digest}`, { method: 'DELETE' })).status, 202);
    assert.equal((await h.client.fetch('/v2/del/shared-b/manifests/v1', { method: 'HEAD' })).status, 200);
    const res = await h.client.fetch('/v2/del/shared-b/manifests/v1');
    assert.ok(Buffer.from(await res.arrayBuffer()).equals(image.manifest));
  });

  it('accepts the same manifest pushed again after it was deleted', async () => {
    const image = await h.client.pushImage('del/again', 'v1', ociImage({ layers: 1 }));
    assert.equal((await h.client.fetch(`/v2/del/again/manifests/${image.digest}`, { method: 'DELETE' })).status, 202);
    assert.equal((await h.client.pushManifest('del/again', 'v1', image.manifest, image.mediaType)).status, 201);
    const res = await h.client.fetch('/v2/del/again/manifests/v1');
    assert.ok(Buffer.from(await res.arrayBuffer()).equals(image.manifest));
  });

  it('answers a delete of an unknown tag or digest with 404 MANIFEST_UNKNOWN', async () => {
    await h.client.pushImage('del/unknown', 'v1', ociImage({ layers: 1 }));
    await expectError(await h.client.fetch('/v2/del/unknown/manifests/nope', { method: 'DELETE' }), 404, 'MANIFEST_UNKNOWN');
    await expectError(await h.client.fetch(`/v2/del/unknown/manifests/${sha256('nope')}`, { method: 'DELETE' }), 404, 'MANIFEST_UNKNOWN');
  });

  it('answers a manifest delete in a repository that does not exist with 404', async () => {
    const res = await h.client.fetch(`/v2/del/never/manifests/${sha256('x')}`, { method: 'DELETE' });
    assert.equal(res.status, 404);
    await res.arrayBuffer();
  });

  it('deletes a blob with 202, after which GET and HEAD answer 404 BLOB_UNKNOWN', async () => {
    const blob = randomBlob(100);
    await h.client.pushBlob('del/blob', blob.data, blob.digest);
    const res = await h.client.fetch(`/v2/del/blob/blobs/${blob.digest}`, { method: 'DELETE' });
    assert.equal(res.status, 202);
    await res.arrayBuffer();
    await expectError(await h.client.fetch(`/v2/del/blob/blobs/${blob.digest}`), 404, 'BLOB_UNKNOWN');
    assert.equal((await h.client.fetch(`/v2/del/blob/blobs/${blob.digest}`, { method: 'HEAD' })).status, 404);
  });

  it('deletes a blob from one repository only', async () => {
    const blob = randomBlob(100);
    await h.client.pushBlob('del/blob-a', blob.data, blob.digest);
    await h.client.pushBlob('del/blob-b', blob.data, blob.digest);
    assert.equal((await h.client.fetch(`/v2/del/blob-a/blobs/${blob.digest}`, { method: 'DELETE' })).status, 202);
    const res = await h.client.fetch(`/v2/del/blob-b/blobs/${blob.digest}`);
    assert.equal(res.status, 200);
    assert.ok(Buffer.from(await res.arrayBuffer()).equals(blob.data));
  });

  it('answers a delete of an unknown blob with 404 BLOB_UNKNOWN', async () => {
    await expectError(await h.client.fetch(`/v2/del/blob/blobs/${sha256('never')}`, { method: 'DELETE' }), 404, 'BLOB_UNKNOWN');
  });

  it('answers a delete with a malformed digest with DIGEST_INVALID', async () => {
    await expectError(await h.client.fetch('/v2/del/blob/blobs/sha256:xyz', { method: 'DELETE' }), 400, 'DIGEST_INVALID');
    await expectError(await h.client.fetch('/v2/del/blob/manifests/sha256:xyz', { method: 'DELETE' }), 400, 'DIGEST_INVALID');
  });
});

describe('deleting with storage.delete.enabled: false', () => {
  const h = useTestRegistry({ storage: { delete: { enabled: false } } });
  let image: Awaited<ReturnType<Client['pushImage']>>;
  before(async () => {
    image = await h.client.pushImage('nodel/app', 'v1', ociImage({ layers: 1 }));
  });

  it('refuses a manifest delete by digest with 405 UNSUPPORTED and keeps the manifest', async () => {
    await expectError(await h.client.fetch(`/v2/nodel/app/manifests/${image.digest}`, { method: 'DELETE' }), 405, 'UNSUPPORTED');
    assert.equal((await h.client.fetch(`/v2/nodel/app/manifests/${image.digest}`, { method: 'HEAD' })).status, 200);
  });

  it('refuses a tag delete with 405 UNSUPPORTED and keeps the tag', async () => {
    await expectError(await h.client.fetch('/v2/nodel/app/manifests/v1', { method: 'DELETE' }), 405, 'UNSUPPORTED');
    assert.equal((await h.client.fetch('/v2/nodel/app/manifests/v1', { method: 'HEAD' })).status, 200);
  });

  it('refuses a blob delete with 405 UNSUPPORTED and keeps the blob', async () => {
    const layer = image.layers[0]!;
    await expectError(await h.client.fetch(`/v2/nodel/app/blobs/${layer.digest}`, { method: 'DELETE' }), 405, 'UNSUPPORTED');
    assert.equal((await h.client.fetch(`/v2/nodel/app/blobs/${layer.digest}`, { method: 'HEAD' })).status, 200);
  });

  it('refuses deletes of unknown content with 405 UNSUPPORTED too', async () => {
    await expectError(await h.client.fetch(`/v2/nodel/app/blobs/${sha256('none')}`, { method: 'DELETE' }), 405, 'UNSUPPORTED');
    await expectError(await h.client.fetch('/v2/nodel/app/manifests/none', { method: 'DELETE' }), 405, 'UNSUPPORTED');
  });

  it('still cancels upload sessions (not a content delete)', async () => {
    const start = await h.client.fetch('/v2/nodel/app/blobs/uploads/', { method: 'POST' });
    assert.equal(start.status, 202);
    const res = await h.client.fetch(start.headers.get('location')!, { method: 'DELETE' });
    assert.equal(res.status, 204);
  });
});
