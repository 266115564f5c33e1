import assert from 'node:assert/strict';
import { randomBytes, randomUUID } from 'node:crypto';
import { describe, it } from 'node:test';
import { assertErrorBody, expectError, expectRawError } from '../helpers/assertions.ts';
import { bytes, withDigest } from '../helpers/client.ts';
import { randomBlob, sha256 } from '../helpers/oci.ts';
import { rawRequest } from '../helpers/raw-http.ts';
import { useTestRegistry } from '../helpers/registry.ts';

describe('uploads: chunks out of order and retried', () => {
  const h = useTestRegistry();

  async function rangeOf(location: string): Promise<string | null> {
    const res = await h.client.fetch(location);
    assert.equal(res.status, 204, 'upload status');
    return res.headers.get('range');
  }

  it('rejects a first chunk that does not start at 0 with 416', async () => {
    const location = await h.client.startUpload('ooo/first');
    const res = await h.client.patchChunk(location, randomBytes(10), 5);
    assert.equal(res.status, 416);
    assertErrorBody(await res.json(), 'first chunk at 5');
    assert.equal(await rangeOf(location), '0-0');
  });

  it('rejects a chunk uploaded out of order with 416 and the current Range', async () => {
    const location = await h.client.startUpload('ooo/gap');
    assert.equal((await h.client.patchChunk(location, randomBytes(10), 0)).status, 202);
    const res = await h.client.patchChunk(location, randomBytes(10), 20);
    assert.equal(res.status, 416);
    assert.equal(res.headers.get('range'), '0-9');
    assertErrorBody(await res.json(), 'chunk with a gap');
    assert.equal(await rangeOf(location), '0-9');
  });

  it('rejects a chunk overlapping what was received with 416', async () => {
    const location = await h.client.startUpload('ooo/overlap');
    assert.equal((await h.client.patchChunk(location, randomBytes(10), 0)).status, 202);
    const res = await h.client.patchChunk(location, randomBytes(10), 5);
    assert.equal(res.status, 416);
    await res.arrayBuffer();
    assert.equal(await rangeOf(location), '0-9');
  });

  it('rejects a retried chunk already received with 416, and the upload then completes intact', async () => {
    const data = randomBytes(30);
    const location = await h.client.startUpload('ooo/retry');
    assert.equal((await h.client.patchChunk(location, data.subarray(0, 10), 0)).status, 202);
    assert.equal((await h.client.patchChunk(location, data.subarray(10, 20), 10)).status, 202);
    const retry = await h.client.patchChunk(location, data.subarray(10, 20), 10);
    assert.equal(retry.status, 416);
    assert.equal(retry.headers.get('range'), '0-19');
    await retry.arrayBuffer();
    assert.equal(await rangeOf(location), '0-19');
    assert.equal(await rangeOf(location), '0-19', 'a second status GET agrees');
    const next = await h.client.patchChunk(location, data.subarray(20), 20);
    assert.equal(next.status, 202);
    assert.equal(next.headers.get('range'), '0-29');
    const done = await h.client.fetch(withDigest(location, sha256(data)), { method: 'PUT' });
    assert.equal(done.status, 201, await done.text());
    const got = await h.client.fetch(`/v2/ooo/retry/blobs/${sha256(data)}`);
    assert.ok(Buffer.from(await got.arrayBuffer()).equals(data));
  });

  it('accepts only one of two chunks racing for the same offset, and keeps the bytes whole', async () => {
    const first = randomBytes(50_000);
    const rival = randomBytes(50_000);
    const location = await h.client.startUpload('ooo/race');
    const results = await Promise.all([h.client.patchChunk(location, first, 0), h.client.patchChunk(location, rival, 0)]);
    const statuses = results.map((r) => r.status).sort();
    assert.deepEqual(statuses, [202, 416]);
    for (const r of results) await r.arrayBuffer();
    assert.equal(await rangeOf(location), '0-49999');
    const winner = results[0]!.status === 202 ? first : rival;
    const done = await h.client.fetch(withDigest(location, sha256(winner)), { method: 'PUT' });
    assert.equal(done.status, 201, await done.text());
  });

  it('rejects a final chunk in the PUT that starts at the wrong offset with 416', async () => {
    const data = randomBytes(20);
    const location = await h.client.startUpload('ooo/put');
    assert.equal((await h.client.patchChunk(location, data.subarray(0, 10), 0)).status, 202);
    const res = await h.client.fetch(withDigest(location, sha256(data)), { method: 'PUT', body: bytes(data.subarray(10)), headers: { 'content-range': '15-24' } });
    assert.equal(res.status, 416);
    await res.arrayBuffer();
    assert.equal(await rangeOf(location), '0-9');
  });

  it('rejects a malformed Content-Range with 400 BLOB_UPLOAD_INVALID and keeps the upload', async () => {
    const location = await h.client.startUpload('ooo/malformed');
    assert.equal((await h.client.patchChunk(location, randomBytes(10), 0)).status, 202);
    for (const range of ['abc', '10', '-9', '10-', 'bytes */10', '0x0-0x9']) {
      const res = await h.client.fetch(location, { method: 'PATCH', body: bytes(randomBytes(10)), headers: { 'content-range': range } });
      await expectError(res, 400, 'BLOB_UPLOAD_INVALID', `Content-Range: ${range}`);
    }
    assert.equal(await rangeOf(location), '0-9');
  });

  it('rejects a Content-Range whose end is before its start', async () => {
    const location = await h.client.startUpload('ooo/backwards');
    const res = await h.client.fetch(location, { method: 'PATCH', body: bytes(randomBytes(10)), headers: { 'content-range': '9-0' } });
    assert.ok([400, 416].includes(res.status), `status ${res.status}`);
    assertErrorBody(await res.json(), 'backwards range');
    assert.equal(await rangeOf(location), '0-0');
  });

  it('rejects a chunk whose Content-Range length disagrees with its Content-Length', async () => {
    const location = await h.client.startUpload('ooo/length');
    assert.equal((await h.client.patchChunk(location, randomBytes(10), 0)).status, 202);
    const res = await h.client.fetch(location, { method: 'PATCH', body: bytes(randomBytes(10)), headers: { 'content-range': '10-29' } });
    assert.ok([400, 416].includes(res.status), `status ${res.status}`);
    assertErrorBody(await res.json(), 'length mismatch');
    assert.equal(await rangeOf(location), '0-9');
  });

  it('rejects a streamed chunk shorter than its Content-Range and keeps none of it', async () => {
    const location = await h.client.startUpload('ooo/short');
    assert.equal((await h.client.patchChunk(location, randomBytes(10), 0)).status, 202);
    const res = await rawRequest(h.registry.url, {
      method: 'PATCH',
      path: new URL(location, h.registry.url).pathname,
      headers: { 'content-range': '10-109', 'transfer-encoding': 'chunked' },
      body: randomBytes(10),
    });
    assert.ok([400, 416].includes(res.status), `status ${res.status}`);
    assertErrorBody(res.json(), 'short chunk');
    assert.equal(await rangeOf(location), '0-9');
  });
});

describe('uploads: digests and sessions', () => {
  const h = useTestRegistry();

  it('refuses a closing PUT whose digest does not match and does not store the blob', async () => {
    const data = randomBytes(100);
    const wrong = sha256(randomBytes(100));
    const location = await h.client.startUpload('dig/put');
    await expectError(await h.client.fetch(withDigest(location, wrong), { method: 'PUT', body: bytes(data) }), 400, 'DIGEST_INVALID');
    assert.equal((await h.client.fetch(`/v2/dig/put/blobs/${wrong}`, { method: 'HEAD' })).status, 404);
    assert.equal((await h.client.fetch(`/v2/dig/put/blobs/${sha256(data)}`, { method: 'HEAD' })).status, 404);
  });

  it('refuses a chunked upload closed with the wrong digest and does not store the blob', async () => {
    const data = randomBytes(100);
    const wrong = sha256(randomBytes(100));
    const location = await h.client.startUpload('dig/chunked');
    assert.equal((await h.client.patchChunk(location, data, 0)).status, 202);
    await expectError(await h.client.fetch(withDigest(location, wrong), { method: 'PUT' }), 400, 'DIGEST_INVALID');
    assert.equal((await h.client.fetch(`/v2/dig/chunked/blobs/${wrong}`, { method: 'HEAD' })).status, 404);
    assert.equal((await h.client.fetch(`/v2/dig/chunked/blobs/${sha256(data)}`, { method: 'HEAD' })).status, 404);
  });

  it('refuses a monolithic POST whose digest does not match and does not store the blob', async () => {
    const data = randomBytes(100);
    const wrong = sha256(randomBytes(100));
    await expectError(await h.client.fetch(withDigest('/v2/dig/mono/blobs/uploads/', wrong), { method: 'POST', body: bytes(data) }), 400, 'DIGEST_INVALID');
    assert.equal((await h.client.fetch(`/v2/dig/mono/blobs/${wrong}`, { method: 'HEAD' })).status, 404);
    assert.equal((await h.client.fetch(`/v2/dig/mono/blobs/${sha256(data)}`, { method: 'HEAD' })).status, 404);
  });

  it('refuses a closing PUT without a digest with 400 DIGEST_INVALID', async () => {
    const location = await h.client.startUpload('dig/none');
    await expectError(await h.client.fetch(location, { method: 'PUT', body: bytes(randomBytes(10)) }), 400, 'DIGEST_INVALID');
  });

  it('refuses malformed digests in ?digest= with 400 DIGEST_INVALID', async () => {
    const data = randomBytes(10);
    for (const d of ['sha256:xyz', `sha256:${sha256(data).slice(7, 70)}`, `sha256:${sha256(data).slice(7).toUpperCase()}`, `md5:${'0'.repeat(32)}`, '']) {
      const location = await h.client.startUpload('dig/malformed');
      await expectError(await h.client.fetch(withDigest(location, d), { method: 'PUT', body: bytes(data) }), 400, 'DIGEST_INVALID', `PUT digest=${d}`);
      await expectError(await h.client.fetch(withDigest('/v2/dig/malformed/blobs/uploads/', d), { method: 'POST', body: bytes(data) }), 400, 'DIGEST_INVALID', `POST digest=${d}`);
    }
  });

  it('refuses a repeated ?digest= parameter with a 400 error body', async () => {
    const blob = randomBlob(10);
    const location = await h.client.startUpload('dig/twice');
    const res = await h.client.fetch(`${location}?digest=${blob.digest}&digest=${blob.digest}`, { method: 'PUT', body: bytes(blob.data) });
    assert.equal(res.status, 400);
    assertErrorBody(await res.json(), 'repeated digest');
  });

  it('answers unknown or malformed upload ids with 404 BLOB_UPLOAD_UNKNOWN for every method', async () => {
    const ids = [randomUUID(), randomUUID().toUpperCase(), 'not-a-uuid', '12345', `${randomUUID()}x`, 'a'.repeat(300)];
    for (const id of ids) {
      const path = `/v2/dig/ids/blobs/uploads/${id}`;
      await expectError(await h.client.fetch(path), 404, 'BLOB_UPLOAD_UNKNOWN', `GET ${id}`);
      await expectError(await h.client.fetch(path, { method: 'PATCH', body: 'x' }), 404, 'BLOB_UPLOAD_UNKNOWN', `PATCH ${id}`);
      await expectError(await h.client.fetch(withDigest(path, sha256('x')), { method: 'PUT', body: 'x' }), 404, 'BLOB_UPLOAD_UNKNOWN', `PUT ${id}`);
      await expectError(await h.client.fetch(path, { method: 'DELETE' }), 404, 'BLOB_UPLOAD_UNKNOWN', `DELETE ${id}`);
    }
  });

  it('answers a raw traversal upload id with 404 BLOB_UPLOAD_UNKNOWN', async () => {
    for (const id of ['..', '..%2f..%2fstate', '%2e%2e%2f_uploads']) {
      const res = await rawRequest(h.registry.url, { path: `/v2/dig/ids/blobs/uploads/${id}` });
      expectRawError(res, 404, 'BLOB_UPLOAD_UNKNOWN', `raw id ${id}`);
    }
  });

  it('does not let one repository use the upload session of another', async () => {
    const location = await h.client.startUpload('dig/owner');
    const id = location.split('/').pop()!;
    await expectError(await h.client.fetch(`/v2/dig/thief/blobs/uploads/${id}`), 404, 'BLOB_UPLOAD_UNKNOWN');
    await expectError(await h.client.fetch(`/v2/dig/thief/blobs/uploads/${id}`, { method: 'PATCH', body: 'x' }), 404, 'BLOB_UPLOAD_UNKNOWN');
    const res = await h.client.fetch(location);
    assert.equal(res.status, 204);
  });
});
