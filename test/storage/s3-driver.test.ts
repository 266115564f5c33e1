import assert from 'node:assert/strict';
import { randomBytes, randomUUID } from 'node:crypto';
import { Readable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { ConfigError } from '../../src/config/load.ts';
import { isNotFound } from '../../src/storage/driver.ts';
import { S3Driver } from '../../src/storage/s3/s3-driver.ts';
import { StorageRegistry } from '../../src/storage/storage-registry.ts';
import { purgeUploads } from '../../src/storage/upload-purger.ts';
import type { RepoName } from '../../src/oci/names.ts';
import type { Digest } from '../../src/oci/digest.ts';
import { layout } from '../../src/storage/layout.ts';
import { ForwardingDriver } from '../helpers/forwarding-driver.ts';
import { pino } from 'pino';
import type { S3DriverOptions } from '../../src/storage/s3/s3-options.ts';
import { startTestRegistry, type TestRegistry } from '../helpers/registry.ts';
import { Client, bytes } from '../helpers/client.ts';
import { ociImage, randomBlob, sha256 } from '../helpers/oci.ts';
import { startS3rver, type TestS3 } from '../helpers/s3rver.ts';
import { driverContract } from './driver-contract.ts';

const MiB = 1024 * 1024;

// One s3rver for the file; every driver works under its own fresh root directory.
let server: Promise<TestS3> | undefined;
const s3 = () => (server ??= startS3rver());
after(async () => {
  if (server) await (await server).stop();
});

async function freshDriver(overrides: Partial<S3DriverOptions> = {}): Promise<S3Driver> {
  return new S3Driver((await s3()).driverOptions(`t-${randomUUID()}`, overrides));
}

driverContract('s3 (on s3rver)', async () => ({ driver: await freshDriver(), cleanup: async () => undefined }));

describe('the S3 driver', () => {
  it('continues one 12 MiB upload over three writer sessions on two replicas, byte for byte', async () => {
    const a = await freshDriver({ chunkSize: 5 * MiB });
    const b = new S3Driver(a.options); // another process on the same bucket and root
    const data = randomBytes(12 * MiB);
    const cuts = [0, 5 * MiB + 1, 8 * MiB, 12 * MiB];
    const replicas = [a, b, a];
    for (let i = 0; i < 3; i++) {
      const w = await replicas[i]!.writer('uploads/u/data', true);
      assert.equal(w.startSize, cuts[i]);
      await writeAll(w.stream, data.subarray(cuts[i], cuts[i + 1]), 256 * 1024);
      await w.commit();
      assert.equal((await b.stat('uploads/u/data')).size, cuts[i + 1]);
    }
    const back = await readAll(await b.reader('uploads/u/data'));
    assert.equal(sha256(back), sha256(data));
    assert.deepEqual(await readAll(await a.reader('uploads/u/data', { start: 5 * MiB - 10, end: 5 * MiB + 10 })), data.subarray(5 * MiB - 10, 5 * MiB + 11));
  });

  it('appends more after a first chunk smaller than 5 MiB', async () => {
    const d = await freshDriver({ chunkSize: 5 * MiB });
    const parts = [randomBytes(100 * 1024), randomBytes(6 * MiB), randomBytes(10)];
    for (const part of parts) {
      const w = await d.writer('up/data', true);
      await writeAll(w.stream, part, 64 * 1024);
      await w.commit();
    }
    assert.equal(sha256(await d.getContent('up/data')), sha256(Buffer.concat(parts)));
  });

  it('holds at most one part in memory, uploading parts while the bytes still arrive', async () => {
    const d = await freshDriver({ chunkSize: 5 * MiB });
    const partSizes = countPartUploads(d);
    const w = await d.writer('big/data', false);
    const data = randomBytes(16 * MiB + 3);
    let most = 0;
    for (let at = 0; at < data.length; at += 64 * 1024) {
      await writeAll(w.stream, data.subarray(at, at + 64 * 1024), 64 * 1024);
      most = Math.max(most, (w as unknown as { buffered: number }).buffered);
      // What is accepted and not yet uploaded fits in one part.
      assert.ok(w.written - sum(partSizes) <= 5 * MiB, `${w.written - sum(partSizes)} bytes held`);
    }
    assert.ok(partSizes.length >= 3, 'parts were uploaded before the stream ended');
    await w.commit();
    assert.ok(most <= 5 * MiB, `buffered ${most}`);
    assert.ok(partSizes.every((size) => size <= 5 * MiB));
    assert.deepEqual(partSizes.slice(0, 3), [5 * MiB, 5 * MiB, 5 * MiB]);
    assert.equal(sha256(await d.getContent('big/data')), sha256(data));
  });

  it('lets a reader see what a writer accepted once its stream has finished, before commit', async () => {
    // The upload store re-reads an upload's bytes to check a digest when the running hash is lost.
    const d = await freshDriver();
    const first = randomBytes(3000);
    const w1 = await d.writer('u/data', true);
    await writeAll(w1.stream, first, 1000);
    await w1.commit();
    const w2 = await d.writer('u/data', true);
    const second = randomBytes(5000);
    await endWith(w2.stream, second);
    assert.deepEqual(await readAll(await d.reader('u/data', { start: 0, end: 7999 })), Buffer.concat([first, second]));
    await w2.commit();
  });

  it('rolls back an append above 5 MiB on cancel after its stream finished', async () => {
    const d = await freshDriver({ chunkSize: 5 * MiB });
    const first = randomBytes(6 * MiB);
    await d.putContent('u/data', first);
    const w = await d.writer('u/data', true);
    await endWith(w.stream, randomBytes(1000));
    assert.equal((await d.stat('u/data')).size, 6 * MiB + 1000);
    await w.cancel();
    assert.equal(sha256(await d.getContent('u/data')), sha256(first));
  });

  it('moves an object larger than multipartcopythresholdsize whole', async () => {
    const d = await freshDriver({ multipartCopyThresholdSize: 1 * MiB });
    const data = randomBytes(6 * MiB);
    await d.putContent('up/data', data);
    await d.move('up/data', 'blobs/x/data');
    assert.equal(sha256(await d.getContent('blobs/x/data')), sha256(data));
    await assert.rejects(d.stat('up/data'), isNotFound);
  });

  it('lists and deletes more entries than one S3 page holds', async () => {
    const d = await freshDriver();
    const names = Array.from({ length: 1010 }, (_, i) => `n${i}`);
    for (let i = 0; i < names.length; i += 50) {
      await Promise.all(names.slice(i, i + 50).map((n) => d.putContent(`many/${n}`, n)));
    }
    assert.deepEqual((await d.list('many')).sort(), [...names].sort());
    await d.delete('many');
    await assert.rejects(d.list('many'), isNotFound);
  });

  it('fails its start check for a bucket that is not there', async () => {
    const d = await freshDriver({ bucket: 'no-such-bucket' });
    await assert.rejects(d.check());
  });
});

describe('a registry on S3 storage', () => {
  let t: TestS3;
  const root = `registry-${randomUUID()}`;
  let one: TestRegistry;
  let two: TestRegistry;
  before(async () => {
    t = await s3();
    // Served through the registry (redirects to the bucket are tested in s3-redirect.test.ts).
    const config = { storage: { filesystem: undefined, s3: t.storageConfig(root), redirect: { disable: true } } };
    one = await startTestRegistry(config);
    two = await startTestRegistry(config); // a second replica on the same bucket
  });
  after(async () => {
    await one?.stop();
    await two?.stop();
  });

  it('pushes and pulls an image, lists its tag and the catalog', async () => {
    const client = new Client(one.url);
    const image = await client.pushImage('team/app', 'v1', ociImage({ layers: 2 }));
    const pull = new Client(two.url);
    const manifest = await pull.fetch('/v2/team/app/manifests/v1', { headers: { accept: image.mediaType } });
    assert.equal(manifest.status, 200);
    assert.equal(sha256(Buffer.from(await manifest.arrayBuffer())), image.digest);
    for (const blob of [image.config, ...image.layers]) {
      const res = await pull.fetch(`/v2/team/app/blobs/${blob.digest}`);
      assert.equal(res.status, 200);
      assert.equal(sha256(Buffer.from(await res.arrayBuffer())), blob.digest);
    }
    assert.deepEqual(await (await pull.fetch('/v2/team/app/tags/list')).json(), { name: 'team/app', tags: ['v1'] });
    const catalog = (await (await pull.fetch('/v2/_catalog')).json()) as { repositories: string[] };
    assert.deepEqual(catalog.repositories, ['team/app']);
  });

  it('completes a chunked upload that two replicas took turns on, checking the digest from the stored bytes', async () => {
    const blob = randomBlob(6 * MiB + 17);
    const a = new Client(one.url);
    const b = new Client(two.url);
    const location = await a.startUpload('team/chunked');
    const first = await a.patchChunk(location, blob.data.subarray(0, 5 * MiB), 0);
    assert.equal(first.status, 202);
    // The other replica has no running hash for this upload: it must read back what is stored.
    const second = await b.patchChunk(first.headers.get('location')!, blob.data.subarray(5 * MiB), 5 * MiB);
    assert.equal(second.status, 202, await second.clone().text());
    const sep = location.includes('?') ? '&' : '?';
    const done = await b.fetch(`${second.headers.get('location')!}${sep}digest=${encodeURIComponent(blob.digest)}`, { method: 'PUT' });
    assert.equal(done.status, 201, await done.clone().text());
    const res = await a.fetch(`/v2/team/chunked/blobs/${blob.digest}`);
    assert.equal(sha256(Buffer.from(await res.arrayBuffer())), blob.digest);
  });

  it('rejects a completion whose digest does not match, keeping the bytes sent', async () => {
    const blob = randomBlob(2000);
    const c = new Client(two.url);
    const location = await c.startUpload('team/bad');
    const patched = await c.patchChunk(location, blob.data, 0);
    assert.equal(patched.status, 202);
    const wrong = sha256('something else');
    const sep = location.includes('?') ? '&' : '?';
    const res = await c.fetch(`${patched.headers.get('location')!}${sep}digest=${encodeURIComponent(wrong)}`, {
      method: 'PUT',
      body: bytes(Buffer.from('tail')),
      headers: { 'content-type': 'application/octet-stream' },
    });
    assert.equal(res.status, 400);
    const status = await c.fetch(patched.headers.get('location')!);
    assert.equal(status.headers.get('range'), '0-1999');
  });

  it('refuses to start when the bucket cannot be reached, as a configuration error naming it', async () => {
    const config = { storage: { filesystem: undefined, s3: { ...t.storageConfig(root), bucket: 'not-a-bucket-here' } } };
    await assert.rejects(startTestRegistry(config), (err: unknown) => {
      assert.ok(err instanceof ConfigError, String(err));
      assert.match(err.message, /storage\.s3: bucket "not-a-bucket-here"/);
      return true;
    });
  });
});

/** Sizes of the parts the driver's client uploads from now on (counted at the SDK's middleware). */
function countPartUploads(d: S3Driver): number[] {
  const sizes: number[] = [];
  d.client.middlewareStack.add(
    (next, context) => async (args) => {
      if (context.commandName === 'UploadPartCommand') sizes.push((args.input as { Body: Buffer }).Body.length);
      return next(args);
    },
    { step: 'initialize', name: 'countPartUploads' },
  );
  return sizes;
}

function sum(values: number[]): number {
  return values.reduce((a, b) => a + b, 0);
}

async function readAll(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

async function writeAll(stream: NodeJS.WritableStream, data: Buffer, piece: number): Promise<void> {
  for (let at = 0; at < data.length; at += piece) {
    await new Promise<void>((resolve, reject) => stream.write(data.subarray(at, at + piece), (err) => (err ? reject(err) : resolve())));
  }
}

/** Writes the last bytes and waits until the stream has finished (what a pipeline resolves on). */
function endWith(stream: NodeJS.WritableStream, data: Buffer): Promise<void> {
  return new Promise((resolve, reject) => {
    stream.once('error', reject);
    stream.once('finish', () => resolve());
    stream.end(data);
  });
}


describe('upload purging on S3 storage', () => {
  it('removes an abandoned session from the bucket, and asks the storage to abort stale multipart uploads without failing where it cannot list them', async () => {
    const driver = await freshDriver();
    const registry = new StorageRegistry(driver);
    const uploads = registry.repository('purge/app' as RepoName).uploads;
    const old = await uploads.start();
    const lines: string[] = [];
    const logger = pino({ level: 'info' }, { write: (line: string) => void lines.push(line) });
    // A week and a day later: the session is past the default age of a week.
    const purged = await purgeUploads(registry, { ageMs: 7 * 24 * 3_600_000, dryRun: false }, logger, new Date(Date.now() + 8 * 24 * 3_600_000));
    assert.equal(purged, 1);
    await assert.rejects(uploads.status(old.id), (err: unknown) => (err as { code?: string }).code === 'BLOB_UPLOAD_UNKNOWN');
    // s3rver has no ListMultipartUploads (501): the purge says so and goes on.
    assert.ok(lines.some((l) => l.includes('cannot list incomplete multipart uploads')), lines.join('\n'));
  });
});

describe('completing an upload that another replica changes meanwhile', () => {
  it('refuses to publish bytes that are not the blob, and publishes nothing', async () => {
    const options = (await s3()).driverOptions(`race-${randomUUID()}`);
    const other = new S3Driver(options); // another replica on the same bucket
    let target = '';
    /** Just before the completion moves the session's data, the other replica appends to it. */
    class RacingDriver extends ForwardingDriver {
      override async move(source: string, dest: string): Promise<void> {
        if (source === target) {
          const writer = await other.writer(source, true);
          writer.stream.end(Buffer.from('appended by another replica'));
          await new Promise<void>((resolve, reject) => writer.stream.on('finish', resolve).on('error', reject));
          await writer.commit();
        }
        return super.move(source, dest);
      }
    }
    const registry = new StorageRegistry(new RacingDriver(new S3Driver(options)));
    const name = 'race/app' as RepoName;
    const uploads = registry.repository(name).uploads;
    const blob = randomBlob(4096);
    const session = await uploads.start();
    target = layout.uploadData(name, session.id);
    await assert.rejects(
      uploads.complete(session.id, blob.digest as Digest, Readable.from([blob.data]), {}),
      (err: unknown) => (err as { code?: string }).code === 'BLOB_UPLOAD_INVALID',
    );
    assert.equal(await registry.content.size(blob.digest as Digest), null, 'nothing published under the digest');
    await assert.rejects(registry.repository(name).blobs.stat(blob.digest as Digest));
  });
});
