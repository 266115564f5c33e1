import assert from 'node:assert/strict';
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { ListMultipartUploadsCommand } from '@aws-sdk/client-s3';
import pino from 'pino';
import { parseRepoName } from '../../src/oci/names.ts';
import { parseUploadId } from '../../src/storage/layout.ts';
import { MIN_PART_SIZE } from '../../src/storage/s3/s3-options.ts';
import { S3Driver } from '../../src/storage/s3/s3-driver.ts';
import { StorageRegistry } from '../../src/storage/storage-registry.ts';
import { purgeUploads } from '../../src/storage/upload-purger.ts';
import { ChildRegistry, freePort, writeConfig } from '../helpers/child-registry.ts';
import { startS3rver, type TestS3 } from '../helpers/s3rver.ts';

const WEEK = 7 * 24 * 3_600_000;

/**
 * A registry process killed while it streams a chunk into S3 leaves a multipart upload that no
 * object shows (S3 keeps, and bills, its parts). The upload purger lists the bucket's multipart
 * uploads (s3rver patched to list and abort them, as S3 and MinIO do) and aborts those older than
 * the purge age, along with the abandoned session.
 */
describe('the upload purger on S3 aborts the multipart upload a killed writer left', { timeout: 60_000 }, () => {
  let s3: TestS3;
  let work: string;
  const root = `multipart-${randomUUID()}`;
  let driver: S3Driver;

  const multipartUploads = async () => {
    const res = await driver.client.send(new ListMultipartUploadsCommand({ Bucket: s3.bucket, Prefix: `${root}/` }));
    return (res.Uploads ?? []).map((u) => u.Key ?? '');
  };

  before(async () => {
    s3 = await startS3rver({ multipartListing: true });
    work = await mkdtemp(path.join(tmpdir(), 'dockyard-s3-multipart-'));
    driver = new S3Driver(s3.driverOptions(root));
  });
  after(async () => {
    await s3?.stop();
    if (work) await rm(work, { recursive: true, force: true });
  });

  it('leaves one when killed mid-chunk, keeps it while young, and aborts it with the session once old', async () => {
    const port = await freePort();
    const config = await writeConfig(work, {
      log: { level: 'error' },
      http: { addr: `127.0.0.1:${port}` },
      storage: {
        s3: { ...s3.storageConfig(root), chunksize: MIN_PART_SIZE },
        redirect: { disable: true },
        maintenance: { uploadpurging: { enabled: false } },
      },
      notifications: { endpoints: [], outbox: { path: path.join(work, 'outbox.sqlite') } },
    });
    const registry = await ChildRegistry.start(config, port);
    let sessionId = '';
    try {
      const started = await fetch(`${registry.url}/v2/purge/app/blobs/uploads/`, { method: 'POST' });
      assert.equal(started.status, 202);
      const location = new URL(started.headers.get('location')!, registry.url);
      sessionId = /\/uploads\/([0-9a-f-]{36})/.exec(location.pathname)?.[1] ?? assert.fail(`no upload id in ${location.pathname}`);
      // One part and a bit, and the chunk never ends: the registry is inside the writer when killed.
      const patch = request(location, { method: 'PATCH', headers: { 'content-type': 'application/octet-stream' } });
      patch.on('error', () => undefined);
      patch.write(randomBytes(MIN_PART_SIZE + 4096));
      for (let i = 0; i < 200 && (await multipartUploads()).length === 0; i++) await sleep(50);
      await registry.kill();
      patch.destroy();
    } finally {
      await registry.kill();
    }
    assert.deepEqual(await multipartUploads(), [`${root}/docker/registry/v2/repositories/purge/app/_uploads/${sessionId}/data`]);

    const lines: string[] = [];
    const logger = pino({ level: 'info' }, { write: (line: string) => void lines.push(line) });
    const storage = new StorageRegistry(driver);
    assert.equal(await purgeUploads(storage, { ageMs: WEEK, dryRun: false }, logger), 0, 'a young session stays');
    assert.equal((await multipartUploads()).length, 1, 'and so does its multipart upload');

    const later = new Date(Date.now() + WEEK + 24 * 3_600_000);
    assert.equal(await purgeUploads(storage, { ageMs: WEEK, dryRun: false }, logger, later), 1);
    assert.deepEqual(await multipartUploads(), []);
    const aborted = lines.map((l) => JSON.parse(l) as { msg: string; aborted?: number }).find((l) => l.msg.includes('aborted incomplete multipart uploads'));
    assert.equal(aborted?.aborted, 1, lines.join('\n'));
    await assert.rejects(storage.repository(parseRepoName('purge/app')).uploads.status(parseUploadId(sessionId)!), { code: 'BLOB_UPLOAD_UNKNOWN' });
  });
});
