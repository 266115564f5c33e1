import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { Readable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import pino from 'pino';
import { parseDigest } from '../../src/oci/digest.ts';
import { parseRepoName, parseTag } from '../../src/oci/names.ts';
import { FilesystemDriver } from '../../src/storage/filesystem-driver.ts';
import { layout, type UploadId } from '../../src/storage/layout.ts';
import { StorageRegistry } from '../../src/storage/storage-registry.ts';
import { purgeUploads } from '../../src/storage/upload-purger.ts';
import { ForwardingDriver } from '../helpers/forwarding-driver.ts';
import { ociImage, randomBlob } from '../helpers/oci.ts';

/** A driver whose deletes fail (EIO) for the paths `failing` picks: a disk error, not a missing file. */
class FaultyDriver extends ForwardingDriver {
  failing: (path: string) => boolean = () => false;
  override async delete(p: string): Promise<void> {
    if (this.failing(p)) throw Object.assign(new Error(`EIO: i/o error, rename '${p}'`), { code: 'EIO' });
    return this.inner.delete(p);
  }
}

/** A pino logger that keeps its lines, to check what was logged at which level. */
function capturingLogger() {
  const lines: { level: number; msg: string }[] = [];
  const logger = pino({ level: 'info' }, { write: (line: string) => void lines.push(JSON.parse(line) as { level: number; msg: string }) });
  return { logger, lines };
}

describe('storage semantics over a failing or crash-scarred store', () => {
  let root: string;
  let driver: FaultyDriver;
  let registry: StorageRegistry;
  before(async () => {
    root = await mkdtemp(path.join(tmpdir(), 'dockyard-stores-'));
    driver = new FaultyDriver(new FilesystemDriver(root, { fsync: false }));
    registry = new StorageRegistry(driver);
  });
  after(() => rm(root, { recursive: true, force: true }));

  async function pushImage(repo: string, tags: string[]) {
    const r = registry.repository(parseRepoName(repo));
    const image = ociImage({ layers: 1 });
    for (const blob of [image.config, ...image.layers]) await completeUpload(repo, blob);
    for (const tag of tags) await r.manifests.put({ tag: parseTag(tag) }, image.manifest, image.mediaType);
    return { r, image, digest: parseDigest(image.digest) };
  }

  async function completeUpload(repo: string, blob: { data: Buffer; digest: string }) {
    const r = registry.repository(parseRepoName(repo));
    const upload = await r.uploads.start();
    await r.uploads.complete(upload.id, parseDigest(blob.digest), Readable.from([blob.data]), {});
    return upload.id;
  }

  it('leaves a tag directory without its link (a crash under an older version) out of tags/list', async () => {
    const { r } = await pushImage('scar/tags', ['ok']);
    await mkdir(path.join(root, layout.tagDir(parseRepoName('scar/tags'), parseTag('broken')), 'current'), { recursive: true });
    assert.deepEqual(await r.tags.list(), ['ok']);
  });

  it('reports a tag delete that the storage refused as an error, and keeps the tag', async () => {
    const { r, digest } = await pushImage('fault/tag', ['v1']);
    driver.failing = (p) => p.includes('/_manifests/tags/v1');
    try {
      await assert.rejects(r.tags.delete(parseTag('v1')), /EIO/);
    } finally {
      driver.failing = () => false;
    }
    assert.deepEqual(await r.tags.list(), ['v1']);
    assert.equal(await r.tags.delete(parseTag('v1')), digest);
    await assert.rejects(r.tags.delete(parseTag('v1')), { code: 'MANIFEST_UNKNOWN' });
  });

  it('reports a manifest delete whose tag removal failed as an error, with the manifest still readable', async () => {
    const { r, digest } = await pushImage('fault/manifest', ['a', 'b']);
    driver.failing = (p) => p.includes('/_manifests/tags/b');
    try {
      await assert.rejects(r.manifests.delete(digest), /EIO/);
    } finally {
      driver.failing = () => false;
    }
    assert.equal((await r.manifests.get({ digest })).digest, digest);
    const { tags } = await r.manifests.delete(digest);
    assert.deepEqual(tags, ['b']); // `a` went with the first, failed, attempt
    await assert.rejects(r.manifests.stat({ digest }), { code: 'MANIFEST_UNKNOWN' });
  });

  it('answers a completion sent again after the blob was published as the first did', async () => {
    const repo = 'retry/upload';
    const r = registry.repository(parseRepoName(repo));
    const blob = randomBlob(3000);
    const upload = await r.uploads.start();
    const first = await r.uploads.complete(upload.id, parseDigest(blob.digest), Readable.from([blob.data]), {});
    const again = await r.uploads.complete(upload.id, parseDigest(blob.digest), Readable.from([blob.data]), {});
    assert.deepEqual(again, first);
    await assert.rejects(r.uploads.status(upload.id), { code: 'BLOB_UPLOAD_UNKNOWN' });
    await assert.rejects(r.uploads.append(upload.id, Readable.from([Buffer.from('x')]), {}), { code: 'BLOB_UPLOAD_UNKNOWN' });
    await assert.rejects(r.uploads.complete(upload.id, parseDigest(randomBlob(5).digest), null, {}), { code: 'BLOB_UPLOAD_UNKNOWN' });
  });

  it('skips files in a referrers directory that are not referrer entries', async () => {
    const name = parseRepoName('scar/referrers');
    const subject = parseDigest(randomBlob(10).digest);
    const dir = path.join(root, layout.referrersDir(name, subject));
    await mkdir(dir, { recursive: true });
    await writeFile(path.join(dir, 'sha256-abc.0b7e1c5e-4f3a-4b1e-9d2a-1c2b3d4e5f60.tmp'), '{"trunc');
    assert.deepEqual(await registry.repository(name).referrers.list(subject), []);
  });

  describe('the upload purger', () => {
    const old = new Date(Date.now() + 10 * 24 * 3_600_000);

    it('logs a removal that failed as a failure, goes on with the others, and rejects', async () => {
      const r = registry.repository(parseRepoName('purge/fail'));
      const stuck = (await r.uploads.start()).id;
      const fine = (await r.uploads.start()).id;
      driver.failing = (p) => p.endsWith(stuck);
      const { logger, lines } = capturingLogger();
      try {
        await assert.rejects(purgeUploads(registry, { ageMs: 1000, dryRun: false }, logger, old), /1 abandoned upload\(s\) could not be removed/);
      } finally {
        driver.failing = () => false;
      }
      const failure = lines.find((l) => l.msg.includes('failed to remove'));
      assert.ok(failure && failure.level >= 50, 'logged at error level');
      assert.ok(!lines.some((l) => l.msg.includes('removed abandoned upload') && JSON.stringify(l).includes(stuck)), 'the failed one is not reported removed');
      await assert.rejects(r.uploads.status(fine as UploadId), { code: 'BLOB_UPLOAD_UNKNOWN' });
      assert.ok((await r.uploads.status(stuck)).id === stuck, 'the one that failed is still there');
      assert.ok((await purgeUploads(registry, { ageMs: 1000, dryRun: false }, logger, old)) >= 1);
    });
  });
});

