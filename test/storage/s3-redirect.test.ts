import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Client } from '../helpers/client.ts';
import { randomBlob, sha256 } from '../helpers/oci.ts';
import { WebhookReceiver, eventsOf, ok } from '../helpers/receiver.ts';
import { startTestRegistry, type TestRegistry } from '../helpers/registry.ts';
import { startS3rver, type TestS3 } from '../helpers/s3rver.ts';
import { drained, endpoint } from '../notify/support.ts';

/**
 * Blob GETs on S3 storage answer 307 to a presigned URL of the bucket, as Distribution does, unless
 * `storage.redirect.disable: true`; the pull is reported either way.
 */
describe('blob redirects on S3 storage', () => {
  let s3: TestS3;
  let receiver: WebhookReceiver;
  let redirecting: TestRegistry;
  let streaming: TestRegistry;
  const root = `redirect-${randomUUID()}`;
  const blob = randomBlob(64 * 1024);
  let outboxDir: string;

  before(async () => {
    s3 = await startS3rver();
    receiver = await WebhookReceiver.start(ok);
    outboxDir = await mkdtemp(path.join(tmpdir(), 'dockyard-redirect-'));
    const storage = { filesystem: undefined, s3: s3.storageConfig(root) };
    redirecting = await startTestRegistry({
      storage,
      // With S3 the outbox defaults to ./data; a test keeps its own.
      notifications: { endpoints: [endpoint(receiver)], outbox: { path: path.join(outboxDir, 'outbox.sqlite') } },
    });
    streaming = await startTestRegistry({ storage: { ...storage, redirect: { disable: true } } });
    const res = await new Client(redirecting.url).pushBlob('redirect/app', blob.data, blob.digest);
    assert.equal(res.status, 201);
  });
  after(async () => {
    await redirecting?.stop();
    await streaming?.stop();
    await receiver?.close();
    await s3?.stop();
    if (outboxDir) await rm(outboxDir, { recursive: true, force: true });
  });

  it('answers a blob GET with 307 to a presigned URL that serves the blob, and reports the pull', async () => {
    const res = await new Client(redirecting.url).fetch(`/v2/redirect/app/blobs/${blob.digest}`);
    await res.arrayBuffer();
    assert.equal(res.status, 307);
    const location = res.headers.get('location') ?? '';
    assert.ok(location.startsWith(s3.endpoint), `Location ${location} points into the bucket`);
    assert.match(location, /X-Amz-Signature=/);
    assert.equal(res.headers.get('docker-content-digest'), blob.digest);
    const fetched = await fetch(location);
    assert.equal(fetched.status, 200);
    assert.equal(sha256(Buffer.from(await fetched.arrayBuffer())), blob.digest);
    const ranged = await fetch(location, { headers: { range: 'bytes=0-99' } });
    assert.equal(ranged.status, 206);
    assert.equal((await ranged.arrayBuffer()).byteLength, 100);

    await drained(redirecting, 'hook', 10_000);
    const pulls = receiver.requests.flatMap(eventsOf).filter((e) => e.action === 'pull' && e.target.digest === blob.digest);
    assert.equal(pulls.length, 1, 'one pull event for the redirected GET');
  });

  it('keeps HEAD answered by the registry itself', async () => {
    const res = await new Client(redirecting.url).fetch(`/v2/redirect/app/blobs/${blob.digest}`, { method: 'HEAD' });
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('content-length'), String(blob.data.length));
  });

  it('streams the blob itself with storage.redirect.disable: true', async () => {
    const res = await new Client(streaming.url).fetch(`/v2/redirect/app/blobs/${blob.digest}`);
    assert.equal(res.status, 200);
    assert.equal(sha256(Buffer.from(await res.arrayBuffer())), blob.digest);
  });

  it('answers an unknown blob 404 BLOB_UNKNOWN, not a redirect', async () => {
    const res = await new Client(redirecting.url).fetch(`/v2/redirect/app/blobs/sha256:${'0'.repeat(64)}`);
    assert.equal(res.status, 404);
    assert.equal(((await res.json()) as { errors: { code: string }[] }).errors[0]?.code, 'BLOB_UNKNOWN');
  });
});
