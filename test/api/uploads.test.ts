import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import { expectError } from '../helpers/assertions.ts';
import { bytes, withDigest } from '../helpers/client.ts';
import { randomBlob, sha256, sha512 } from '../helpers/oci.ts';
import { useTestRegistry } from '../helpers/registry.ts';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** A fetch body that arrives with Transfer-Encoding: chunked (no Content-Length). */
function streamed(data: Buffer, pieces = 3): RequestInit {
  const size = Math.ceil(data.length / pieces);
  let i = 0;
  const body = new ReadableStream<Uint8Array>({
    pull(controller) {
      if (i >= data.length) return controller.close();
      controller.enqueue(bytes(data.subarray(i, i + size)));
      i += size;
    },
  });
  return { body, duplex: 'half' } as RequestInit;
}

describe('uploads: the happy paths', () => {
  const h = useTestRegistry();

  async function assertBlob(name: string, digest: string, data: Buffer) {
    const res = await h.client.fetch(`/v2/${name}/blobs/${digest}`);
    assert.equal(res.status, 200, `GET blob ${digest}`);
    assert.ok(Buffer.from(await res.arrayBuffer()).equals(data), 'stored bytes differ from the uploaded bytes');
  }

  it('starts a session with 202, Location, Range 0-0 and Docker-Upload-UUID', async () => {
    const res = await h.client.fetch('/v2/up/start/blobs/uploads/', { method: 'POST' });
    assert.equal(res.status, 202);
    const location = res.headers.get('location')!;
    const uuid = res.headers.get('docker-upload-uuid')!;
    assert.match(uuid, UUID);
    assert.equal(new URL(location, h.registry.url).pathname, `/v2/up/start/blobs/uploads/${uuid}`);
    assert.equal(res.headers.get('range'), '0-0');
    assert.equal(res.headers.get('content-length'), '0');
  });

  it('starts distinct sessions for two POSTs', async () => {
    const a = await h.client.startUpload('up/start');
    const b = await h.client.startUpload('up/start');
    assert.notEqual(a, b);
  });

  it('accepts a monolithic single POST with ?digest= and answers 201', async () => {
    const blob = randomBlob(2048);
    const res = await h.client.fetch(withDigest('/v2/up/mono/blobs/uploads/', blob.digest), {
      method: 'POST',
      body: bytes(blob.data),
      headers: { 'content-type': 'application/octet-stream' },
    });
    assert.equal(res.status, 201, await res.text());
    assert.equal(new URL(res.headers.get('location')!, h.registry.url).pathname, `/v2/up/mono/blobs/${blob.digest}`);
    assert.equal(res.headers.get('docker-content-digest'), blob.digest);
    await assertBlob('up/mono', blob.digest, blob.data);
  });

  it('accepts POST then PUT ?digest= with the whole blob as the body', async () => {
    const blob = randomBlob(4096);
    const location = await h.client.startUpload('up/postput');
    const res = await h.client.fetch(withDigest(location, blob.digest), { method: 'PUT', body: bytes(blob.data), headers: { 'content-type': 'application/octet-stream' } });
    assert.equal(res.status, 201, await res.text());
    assert.equal(new URL(res.headers.get('location')!, h.registry.url).pathname, `/v2/up/postput/blobs/${blob.digest}`);
    assert.equal(res.headers.get('docker-content-digest'), blob.digest);
    await assertBlob('up/postput', blob.digest, blob.data);
  });

  it('accepts chunks with Content-Range start-end, reporting Range after each, then a PUT without body', async () => {
    const data = randomBytes(3000);
    let location = await h.client.startUpload('up/chunked');
    for (const [start, end] of [[0, 999], [1000, 1999], [2000, 2999]] as const) {
      const res = await h.client.patchChunk(location, data.subarray(start, end + 1), start);
      assert.equal(res.status, 202, await res.text());
      assert.equal(res.headers.get('range'), `0-${end}`);
      assert.match(res.headers.get('docker-upload-uuid') ?? '', UUID);
      location = res.headers.get('location')!; // the spec: continue at the Location given
    }
    const res = await h.client.fetch(withDigest(location, sha256(data)), { method: 'PUT' });
    assert.equal(res.status, 201, await res.text());
    await assertBlob('up/chunked', sha256(data), data);
  });

  it('accepts the final chunk in the closing PUT, with Content-Range', async () => {
    const data = randomBytes(1500);
    const location = await h.client.startUpload('up/final-chunk');
    assert.equal((await h.client.patchChunk(location, data.subarray(0, 1000), 0)).status, 202);
    const res = await h.client.fetch(withDigest(location, sha256(data)), {
      method: 'PUT',
      body: bytes(data.subarray(1000)),
      headers: { 'content-type': 'application/octet-stream', 'content-range': '1000-1499' },
    });
    assert.equal(res.status, 201, await res.text());
    await assertBlob('up/final-chunk', sha256(data), data);
  });

  it('accepts the final chunk in the closing PUT without Content-Range', async () => {
    const data = randomBytes(1500);
    const location = await h.client.startUpload('up/final-chunk');
    assert.equal((await h.client.patchChunk(location, data.subarray(0, 700), 0)).status, 202);
    const res = await h.client.fetch(withDigest(location, sha256(data)), { method: 'PUT', body: bytes(data.subarray(700)) });
    assert.equal(res.status, 201, await res.text());
    await assertBlob('up/final-chunk', sha256(data), data);
  });

  it('accepts a streamed PATCH without Content-Range or Content-Length', async () => {
    const data = randomBytes(64 * 1024 + 3);
    const location = await h.client.startUpload('up/streamed');
    const res = await h.client.fetch(location, { method: 'PATCH', headers: { 'content-type': 'application/octet-stream' }, ...streamed(data) });
    assert.equal(res.status, 202, await res.text());
    assert.equal(res.headers.get('range'), `0-${data.length - 1}`);
    const done = await h.client.fetch(withDigest(res.headers.get('location')!, sha256(data)), { method: 'PUT' });
    assert.equal(done.status, 201, await done.text());
    await assertBlob('up/streamed', sha256(data), data);
  });

  it('appends several streamed PATCHes in order', async () => {
    const data = randomBytes(5000);
    const location = await h.client.startUpload('up/streamed');
    for (const [start, end] of [[0, 2000], [2000, 5000]] as const) {
      const res = await h.client.fetch(location, { method: 'PATCH', body: bytes(data.subarray(start, end)) });
      assert.equal(res.status, 202);
      assert.equal(res.headers.get('range'), `0-${end - 1}`);
    }
    assert.equal((await h.client.fetch(withDigest(location, sha256(data)), { method: 'PUT' })).status, 201);
    await assertBlob('up/streamed', sha256(data), data);
  });

  it('accepts a streamed final chunk in the closing PUT', async () => {
    const data = randomBytes(10_000);
    const location = await h.client.startUpload('up/streamed-put');
    const res = await h.client.fetch(withDigest(location, sha256(data)), { method: 'PUT', ...streamed(data, 4) });
    assert.equal(res.status, 201, await res.text());
    await assertBlob('up/streamed-put', sha256(data), data);
  });

  it('reports progress on GET with 204, Range and Location', async () => {
    const location = await h.client.startUpload('up/status');
    let res = await h.client.fetch(location);
    assert.equal(res.status, 204);
    assert.equal(res.headers.get('range'), '0-0');
    assert.equal(new URL(res.headers.get('location')!, h.registry.url).pathname, new URL(location, h.registry.url).pathname);
    await h.client.patchChunk(location, randomBytes(123), 0);
    res = await h.client.fetch(location);
    assert.equal(res.status, 204);
    assert.equal(res.headers.get('range'), '0-122');
    assert.match(res.headers.get('docker-upload-uuid') ?? '', UUID);
  });

  it('cancels a session with DELETE 204, after which it is unknown', async () => {
    const location = await h.client.startUpload('up/cancel');
    await h.client.patchChunk(location, randomBytes(10), 0);
    const res = await h.client.fetch(location, { method: 'DELETE' });
    assert.equal(res.status, 204);
    await expectError(await h.client.fetch(location), 404, 'BLOB_UPLOAD_UNKNOWN');
    await expectError(await h.client.patchChunk(location, randomBytes(10), 10), 404, 'BLOB_UPLOAD_UNKNOWN');
    await expectError(await h.client.fetch(withDigest(location, sha256('x')), { method: 'PUT' }), 404, 'BLOB_UPLOAD_UNKNOWN');
    await expectError(await h.client.fetch(location, { method: 'DELETE' }), 404, 'BLOB_UPLOAD_UNKNOWN');
  });

  it('closes the session once the blob is complete', async () => {
    const blob = randomBlob(10);
    const location = await h.client.startUpload('up/closed');
    assert.equal((await h.client.fetch(withDigest(location, blob.digest), { method: 'PUT', body: bytes(blob.data) })).status, 201);
    await expectError(await h.client.fetch(location), 404, 'BLOB_UPLOAD_UNKNOWN');
  });

  it('accepts a blob pushed again that is already stored', async () => {
    const blob = randomBlob(100);
    assert.equal((await h.client.pushBlob('up/twice', blob.data, blob.digest)).status, 201);
    assert.equal((await h.client.pushBlob('up/twice', blob.data, blob.digest)).status, 201);
    assert.equal((await h.client.pushBlob('up/twice-elsewhere', blob.data, blob.digest)).status, 201);
    await assertBlob('up/twice-elsewhere', blob.digest, blob.data);
  });

  it('completes two concurrent uploads of the same blob', async () => {
    const blob = randomBlob(200_000);
    const results = await Promise.all([h.client.pushBlob('up/race', blob.data, blob.digest), h.client.pushBlob('up/race', blob.data, blob.digest)]);
    assert.deepEqual(results.map((r) => r.status), [201, 201]);
    await assertBlob('up/race', blob.digest, blob.data);
  });

  it('accepts a monolithic POST whose body is streamed without Content-Length', async () => {
    const data = randomBytes(20_000);
    const res = await h.client.fetch(withDigest('/v2/up/mono-streamed/blobs/uploads/', sha256(data)), { method: 'POST', ...streamed(data, 5) });
    assert.equal(res.status, 201, await res.text());
    await assertBlob('up/mono-streamed', sha256(data), data);
  });

  it('accepts a monolithic POST of an empty blob', async () => {
    const empty = Buffer.alloc(0);
    const res = await h.client.fetch(withDigest('/v2/up/empty/blobs/uploads/', sha256(empty)), { method: 'POST', body: bytes(empty) });
    assert.equal(res.status, 201, await res.text());
    await assertBlob('up/empty', sha256(empty), empty);
  });
});

describe('uploads: sha512 digests', () => {
  const h = useTestRegistry();

  it('accepts a monolithic POST with a sha512 digest and serves the blob by it', async () => {
    const data = randomBytes(777);
    const res = await h.client.fetch(withDigest('/v2/up/sha512/blobs/uploads/', sha512(data)), { method: 'POST', body: bytes(data) });
    assert.equal(res.status, 201, await res.text());
    assert.equal(res.headers.get('docker-content-digest'), sha512(data));
    const got = await h.client.fetch(`/v2/up/sha512/blobs/${sha512(data)}`);
    assert.equal(got.headers.get('docker-content-digest'), sha512(data));
    assert.ok(Buffer.from(await got.arrayBuffer()).equals(data));
  });

  it('completes a chunked upload with a sha512 digest', async () => {
    const data = randomBytes(3000);
    const location = await h.client.startUpload('up/sha512');
    assert.equal((await h.client.patchChunk(location, data.subarray(0, 1000), 0)).status, 202);
    assert.equal((await h.client.patchChunk(location, data.subarray(1000, 2000), 1000)).status, 202);
    const res = await h.client.fetch(withDigest(location, sha512(data)), { method: 'PUT', body: bytes(data.subarray(2000)), headers: { 'content-range': '2000-2999' } });
    assert.equal(res.status, 201, await res.text());
    const got = await h.client.fetch(`/v2/up/sha512/blobs/${sha512(data)}`);
    assert.ok(Buffer.from(await got.arrayBuffer()).equals(data));
  });

  it('refuses a sha512 digest that does not match with DIGEST_INVALID', async () => {
    const data = randomBytes(100);
    const wrong = sha512(randomBytes(100));
    await expectError(await h.client.fetch(withDigest('/v2/up/sha512/blobs/uploads/', wrong), { method: 'POST', body: bytes(data) }), 400, 'DIGEST_INVALID');
    assert.equal((await h.client.fetch(`/v2/up/sha512/blobs/${wrong}`, { method: 'HEAD' })).status, 404);
    assert.equal((await h.client.fetch(`/v2/up/sha512/blobs/${sha512(data)}`, { method: 'HEAD' })).status, 404);
  });
});
