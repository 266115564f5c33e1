import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { before, describe, it } from 'node:test';
import { expectError } from '../helpers/assertions.ts';
import { randomBlob, sha256 } from '../helpers/oci.ts';
import { useTestRegistry } from '../helpers/registry.ts';

describe('blobs: GET and HEAD', () => {
  const h = useTestRegistry();
  const blob = randomBlob(1000);
  before(async () => {
    assert.equal((await h.client.pushBlob('blobs/app', blob.data, blob.digest)).status, 201);
  });

  it('serves a blob with its bytes, Content-Length and Docker-Content-Digest', async () => {
    const res = await h.client.fetch(`/v2/blobs/app/blobs/${blob.digest}`);
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('content-length'), '1000');
    assert.equal(res.headers.get('docker-content-digest'), blob.digest);
    assert.ok(Buffer.from(await res.arrayBuffer()).equals(blob.data));
  });

  it('answers HEAD with the size and digest and no body', async () => {
    const res = await h.client.fetch(`/v2/blobs/app/blobs/${blob.digest}`, { method: 'HEAD' });
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('content-length'), '1000');
    assert.equal(res.headers.get('docker-content-digest'), blob.digest);
    assert.equal((await res.arrayBuffer()).byteLength, 0);
  });

  it('serves a multi-megabyte blob intact', async () => {
    const data = randomBytes(3 * 1024 * 1024 + 17);
    const digest = sha256(data);
    assert.equal((await h.client.pushBlob('blobs/big', data, digest)).status, 201);
    const res = await h.client.fetch(`/v2/blobs/big/blobs/${digest}`);
    assert.equal(res.headers.get('content-length'), String(data.length));
    assert.equal(sha256(Buffer.from(await res.arrayBuffer())), digest);
  });

  it('serves an empty blob', async () => {
    const empty = Buffer.alloc(0);
    assert.equal((await h.client.pushBlob('blobs/empty', empty, sha256(empty))).status, 201);
    const res = await h.client.fetch(`/v2/blobs/empty/blobs/${sha256(empty)}`);
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('content-length'), '0');
    assert.equal((await res.arrayBuffer()).byteLength, 0);
  });

  it('answers an unknown blob with 404 BLOB_UNKNOWN on GET and 404 on HEAD', async () => {
    const missing = sha256('missing');
    await expectError(await h.client.fetch(`/v2/blobs/app/blobs/${missing}`), 404, 'BLOB_UNKNOWN');
    assert.equal((await h.client.fetch(`/v2/blobs/app/blobs/${missing}`, { method: 'HEAD' })).status, 404);
  });

  it('does not serve a blob to a repository it was never pushed or mounted to', async () => {
    await expectError(await h.client.fetch(`/v2/blobs/other/blobs/${blob.digest}`), 404, 'BLOB_UNKNOWN');
    assert.equal((await h.client.fetch(`/v2/blobs/other/blobs/${blob.digest}`, { method: 'HEAD' })).status, 404);
  });

  it('answers a malformed digest with 400 DIGEST_INVALID', async () => {
    for (const d of ['sha256:xyz', `sha256:${'0'.repeat(63)}`, `sha256:${blob.digest.slice(7).toUpperCase()}`, `foo:${'0'.repeat(64)}`, 'nocolon']) {
      await expectError(await h.client.fetch(`/v2/blobs/app/blobs/${d}`), 400, 'DIGEST_INVALID', d);
    }
  });
});

describe('blobs: Range requests', () => {
  const h = useTestRegistry();
  const blob = randomBlob(1000);
  const url = () => `/v2/ranges/app/blobs/${blob.digest}`;
  before(async () => {
    assert.equal((await h.client.pushBlob('ranges/app', blob.data, blob.digest)).status, 201);
  });

  async function partial(range: string, start: number, end: number) {
    const res = await h.client.fetch(url(), { headers: { range } });
    assert.equal(res.status, 206, range);
    assert.equal(res.headers.get('content-range'), `bytes ${start}-${end}/1000`, range);
    assert.equal(res.headers.get('content-length'), String(end - start + 1), range);
    assert.ok(Buffer.from(await res.arrayBuffer()).equals(blob.data.subarray(start, end + 1)), `${range}: wrong bytes`);
  }

  it('serves a closed range with 206 and Content-Range', () => partial('bytes=0-99', 0, 99));
  it('serves a range in the middle of the blob', () => partial('bytes=250-749', 250, 749));
  it('serves a one-byte range', () => partial('bytes=999-999', 999, 999));
  it('serves an open-ended range to the end of the blob', () => partial('bytes=900-', 900, 999));
  it('serves a suffix range of the last bytes', () => partial('bytes=-100', 900, 999));
  it('serves a suffix range longer than the blob as the whole blob', () => partial('bytes=-5000', 0, 999));
  it('clamps a range that runs past the end of the blob', () => partial('bytes=990-5000', 990, 999));

  it('answers a range starting at the end of the blob with 416 and Content-Range bytes */size', async () => {
    for (const range of ['bytes=1000-', 'bytes=1000-1001', 'bytes=5000-6000', 'bytes=-0']) {
      const res = await h.client.fetch(url(), { headers: { range } });
      assert.equal(res.status, 416, range);
      assert.equal(res.headers.get('content-range'), 'bytes */1000', range);
      await res.arrayBuffer();
    }
  });

  it('serves the whole blob when the Range header is malformed or not in bytes', async () => {
    for (const range of ['bytes=5-2', 'items=0-10', 'bytes=abc', 'bytes=']) {
      const res = await h.client.fetch(url(), { headers: { range } });
      assert.equal(res.status, 200, range);
      assert.ok(Buffer.from(await res.arrayBuffer()).equals(blob.data), range);
    }
  });

  it('answers any range on an empty blob with 416 bytes */0', async () => {
    const empty = Buffer.alloc(0);
    await h.client.pushBlob('ranges/app', empty, sha256(empty));
    const res = await h.client.fetch(`/v2/ranges/app/blobs/${sha256(empty)}`, { headers: { range: 'bytes=0-' } });
    assert.equal(res.status, 416);
    assert.equal(res.headers.get('content-range'), 'bytes */0');
    await res.arrayBuffer();
  });

  it('advertises Accept-Ranges: bytes', async () => {
    const res = await h.client.fetch(url(), { method: 'HEAD' });
    assert.equal(res.headers.get('accept-ranges'), 'bytes');
  });
});
