import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import { assertErrorBody, expectError } from '../helpers/assertions.ts';
import { bytes, withDigest } from '../helpers/client.ts';
import { ociImage, randomBlob, sha256 } from '../helpers/oci.ts';
import { useTestRegistry } from '../helpers/registry.ts';

describe('uploads: cross-repository blob mount', () => {
  const h = useTestRegistry();
  const blob = randomBlob(512);
  before(async () => {
    assert.equal((await h.client.pushBlob('mount/source', blob.data, blob.digest)).status, 201);
  });

  const mount = (target: string, digest: string, from?: string) =>
    h.client.fetch(`/v2/${target}/blobs/uploads/?mount=${encodeURIComponent(digest)}${from === undefined ? '' : `&from=${encodeURIComponent(from)}`}`, { method: 'POST' });

  it('mounts a blob held by the from repository with 201, Location and Docker-Content-Digest', async () => {
    const res = await mount('mount/target', blob.digest, 'mount/source');
    assert.equal(res.status, 201, await res.text());
    assert.equal(new URL(res.headers.get('location')!, h.registry.url).pathname, `/v2/mount/target/blobs/${blob.digest}`);
    assert.equal(res.headers.get('docker-content-digest'), blob.digest);
    const got = await h.client.fetch(`/v2/mount/target/blobs/${blob.digest}`);
    assert.equal(got.status, 200);
    assert.ok(Buffer.from(await got.arrayBuffer()).equals(blob.data));
  });

  it('lets a manifest in the target repository reference the mounted blob', async () => {
    const image = ociImage({ layers: 1 });
    for (const b of [image.config, ...image.layers]) await h.client.pushBlob('mount/img-src', b.data, b.digest);
    await h.client.pushManifest('mount/img-src', 'v1', image.manifest, image.mediaType);
    for (const b of [image.config, ...image.layers]) assert.equal((await mount('mount/img-dst', b.digest, 'mount/img-src')).status, 201);
    const res = await h.client.pushManifest('mount/img-dst', 'v1', image.manifest, image.mediaType);
    assert.equal(res.status, 201, await res.text());
  });

  it('starts an upload session (202) when the from repository does not hold the blob', async () => {
    const elsewhere = randomBlob(64);
    await h.client.pushBlob('mount/other', elsewhere.data, elsewhere.digest);
    const res = await mount('mount/target2', elsewhere.digest, 'mount/source');
    assert.equal(res.status, 202);
    const location = res.headers.get('location')!;
    assert.match(location, /\/v2\/mount\/target2\/blobs\/uploads\/[0-9a-f-]{36}$/);
    assert.equal((await h.client.fetch(`/v2/mount/target2/blobs/${elsewhere.digest}`, { method: 'HEAD' })).status, 404);
    // The session is usable: finish the upload through it.
    const done = await h.client.fetch(withDigest(location, elsewhere.digest), { method: 'PUT', body: bytes(elsewhere.data) });
    assert.equal(done.status, 201, await done.text());
  });

  it('starts an upload session (202) when the blob is unknown to the registry', async () => {
    const res = await mount('mount/target3', sha256('unknown blob'), 'mount/source');
    assert.equal(res.status, 202);
    assert.ok(res.headers.get('location'));
  });

  it('starts an upload session (202) when the from repository does not exist', async () => {
    const res = await mount('mount/target4', blob.digest, 'mount/nowhere');
    assert.equal(res.status, 202);
    assert.equal((await h.client.fetch(`/v2/mount/target4/blobs/${blob.digest}`, { method: 'HEAD' })).status, 404);
  });

  it('mounts a blob held anywhere in the registry when from is not given (201)', async () => {
    const res = await mount('mount/anywhere', blob.digest);
    assert.equal(res.status, 201, await res.text());
    assert.equal(res.headers.get('docker-content-digest'), blob.digest);
    const got = await h.client.fetch(`/v2/mount/anywhere/blobs/${blob.digest}`);
    assert.ok(Buffer.from(await got.arrayBuffer()).equals(blob.data));
  });

  it('starts an upload session without from when the blob is nowhere in the registry', async () => {
    const res = await mount('mount/anywhere2', sha256('nowhere'));
    assert.equal(res.status, 202);
  });

  it('mounts into a repository that already holds the blob (201)', async () => {
    assert.equal((await mount('mount/source', blob.digest, 'mount/source')).status, 201);
  });

  it('refuses a malformed mount digest with DIGEST_INVALID', async () => {
    await expectError(await mount('mount/target', 'sha256:xyz', 'mount/source'), 400, 'DIGEST_INVALID');
  });

  it('refuses an invalid from name with NAME_INVALID', async () => {
    for (const from of ['../mount/source', 'Mount/Source', 'mount//source', '']) {
      await expectError(await mount('mount/target', blob.digest, from), 400, 'NAME_INVALID', `from=${from}`);
    }
  });

  it('does not mount into an invalid target name', async () => {
    const res = await mount('Bad_Target', blob.digest, 'mount/source');
    await expectError(res, 400, 'NAME_INVALID');
  });

  it('refuses a repeated mount parameter with a 400 error body', async () => {
    const res = await h.client.fetch(`/v2/mount/target/blobs/uploads/?mount=${blob.digest}&mount=${blob.digest}&from=mount/source`, { method: 'POST' });
    assert.equal(res.status, 400);
    assertErrorBody(await res.json(), 'repeated mount');
  });
});
