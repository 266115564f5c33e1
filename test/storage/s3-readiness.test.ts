import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { describe, it } from 'node:test';
import { startTestRegistry } from '../helpers/registry.ts';
import { startS3rver } from '../helpers/s3rver.ts';

/**
 * Readiness names the storage: a bucket that stops answering makes /readyz say so at once, and
 * requests meanwhile get a 503 naming the storage.
 */
describe('readiness on S3 storage', () => {
  it('answers /readyz 200 while the bucket answers, and 503 naming the storage once it does not', async () => {
    const s3 = await startS3rver();
    const registry = await startTestRegistry({ storage: { filesystem: undefined, s3: s3.storageConfig(`ready-${randomUUID()}`) } });
    try {
      const up = await fetch(`${registry.url}/readyz`);
      const upBody = (await up.json()) as { storage: { state: string } };
      assert.equal(up.status, 200);
      assert.equal(upBody.storage.state, 'reachable');

      await s3.stop();
      const down = await fetch(`${registry.url}/readyz`);
      const downBody = (await down.json()) as { status: string; storage: { state: string; error?: string } };
      assert.equal(down.status, 503);
      assert.equal(downBody.status, 'unavailable');
      assert.equal(downBody.storage.state, 'error');
      assert.ok(downBody.storage.error, 'the storage error is named');

      // Requests meanwhile get a 503 that names the storage, not "internal server error".
      for (const [what, init, url] of [
        ['tags/list', {}, '/v2/ready/app/tags/list'],
        ['upload start', { method: 'POST' }, '/v2/ready/app/blobs/uploads/'],
      ] as const) {
        const res = await fetch(`${registry.url}${url}`, init);
        const body = (await res.json()) as { errors: { code: string; message: string; detail: unknown }[] };
        assert.equal(res.status, 503, `${what}: ${JSON.stringify(body)}`);
        assert.match(body.errors[0]!.message, /storage is unavailable/);
        assert.ok(body.errors[0]!.detail, 'with a detail');
        assert.equal(res.headers.get('retry-after'), '5');
      }
    } finally {
      await registry.stop();
      await s3.stop().catch(() => undefined);
    }
  });
});
