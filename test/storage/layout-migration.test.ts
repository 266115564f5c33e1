import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import pino from 'pino';
import { parseDigest } from '../../src/oci/digest.ts';
import { parseRepoName, parseTag } from '../../src/oci/names.ts';
import { FilesystemDriver } from '../../src/storage/filesystem-driver.ts';
import { migrateLayout } from '../../src/storage/layout-migration.ts';
import { layout, parseUploadId } from '../../src/storage/layout.ts';
import { StorageRegistry } from '../../src/storage/storage-registry.ts';
import { purgeUploads } from '../../src/storage/upload-purger.ts';
import { writeLegacyImage } from './legacy-layout.ts';

const silent = pino({ level: 'silent' });

describe('moving a data root of the earlier layout into Distribution\'s', () => {
  let work: string;
  before(async () => {
    work = await mkdtemp(path.join(tmpdir(), 'dockyard-migration-'));
  });
  after(async () => {
    await rm(work, { recursive: true, force: true });
  });

  async function freshRoot(name: string): Promise<string> {
    const root = path.join(work, name);
    await mkdir(root, { recursive: true });
    return root;
  }

  it('moves blobs/ and repositories/ under docker/registry/v2, and the old images (JSON revision links) are served', async () => {
    const root = await freshRoot('legacy');
    const { manifest, digest, image, blobs } = await writeLegacyImage(root, 'old/app', 'v1');
    const driver = new FilesystemDriver(root);
    const result = await migrateLayout(driver);
    assert.deepEqual(result, { moved: ['blobs -> docker/registry/v2/blobs', 'repositories -> docker/registry/v2/repositories'], rewrittenLinks: 1 });
    // The revision link now holds the digest alone, which Distribution can read.
    assert.equal(await readFile(path.join(root, layout.revisionLink(parseRepoName('old/app'), digest)), 'utf8'), digest);
    assert.deepEqual((await readdir(root)).filter((e) => e !== '_tmp').sort(), ['docker']);

    const registry = new StorageRegistry(driver);
    const r = registry.repository(parseRepoName('old/app'));
    assert.deepEqual((await registry.catalog(10)).names, ['old/app']);
    const got = await r.manifests.get({ tag: parseTag('v1') });
    assert.equal(got.digest, digest);
    assert.equal(got.mediaType, image.mediaType);
    assert.ok(got.content.equals(manifest));
    assert.equal((await r.blobs.stat(parseDigest(blobs[0]!.digest))).size, blobs[0]!.data.length);
  });

  it('does nothing on a root already moved (or new), so it runs on every start', async () => {
    const root = await freshRoot('twice');
    await writeLegacyImage(root, 'app', 'v1');
    const driver = new FilesystemDriver(root);
    await migrateLayout(driver);
    assert.deepEqual(await migrateLayout(driver), { moved: [], rewrittenLinks: 0 });
    assert.deepEqual(await migrateLayout(new FilesystemDriver(await freshRoot('empty'))), { moved: [], rewrittenLinks: 0 });
  });

  it('finishes a move a crash interrupted after the first rename', async () => {
    const root = await freshRoot('half');
    const { digest } = await writeLegacyImage(root, 'app', 'v1');
    await mkdir(path.join(root, 'docker/registry/v2'), { recursive: true });
    await rename(path.join(root, 'blobs'), path.join(root, 'docker/registry/v2/blobs'));
    const driver = new FilesystemDriver(root);
    assert.deepEqual(await migrateLayout(driver), { moved: ['repositories -> docker/registry/v2/repositories'], rewrittenLinks: 1 });
    const got = await new StorageRegistry(driver).repository(parseRepoName('app')).manifests.stat({ tag: parseTag('v1') });
    assert.equal(got.digest, digest);
  });

  it('refuses a root holding both layouts, naming them, and moves nothing', async () => {
    const root = await freshRoot('both');
    await writeLegacyImage(root, 'app', 'v1');
    await mkdir(path.join(root, 'docker/registry/v2/repositories/other'), { recursive: true });
    await assert.rejects(migrateLayout(new FilesystemDriver(root)), /both the old and the new layout \(repositories\/ and docker\/registry\/v2\/repositories\/\)/);
    assert.deepEqual((await readdir(root)).filter((e) => e !== '_tmp').sort(), ['blobs', 'docker', 'repositories']);
    assert.deepEqual(await readdir(path.join(root, 'docker/registry/v2')), ['repositories']);
  });
});

describe('upload sessions in Distribution\'s layout', () => {
  let root: string;
  let registry: StorageRegistry;
  const name = parseRepoName('up/app');
  before(async () => {
    root = await mkdtemp(path.join(tmpdir(), 'dockyard-uploads-'));
    registry = new StorageRegistry(new FilesystemDriver(root));
  });
  after(async () => {
    await rm(root, { recursive: true, force: true });
  });

  it('writes startedat as Distribution does (RFC 3339, whole seconds, UTC), so its purger ages our sessions', async () => {
    const upload = await registry.repository(name).uploads.start();
    const startedat = await readFile(path.join(root, layout.uploadStartedAt(name, upload.id)), 'utf8');
    assert.match(startedat, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    assert.ok(Math.abs(Date.parse(startedat) - upload.startedAt.getTime()) < 1000);
  });

  it('purges a session Distribution started (startedat only) once it is old, and keeps a young one', async () => {
    const oldId = parseUploadId('0b7e1c5e-4f3a-4b1e-9d2a-1c2b3d4e5f60')!;
    const youngId = parseUploadId('1b7e1c5e-4f3a-4b1e-9d2a-1c2b3d4e5f61')!;
    const now = new Date();
    for (const [id, at] of [[oldId, new Date(now.getTime() - 8 * 24 * 3_600_000)], [youngId, now]] as const) {
      await mkdir(path.join(root, layout.uploadDir(name, id)), { recursive: true });
      await writeFile(path.join(root, layout.uploadStartedAt(name, id)), at.toISOString().replace(/\.\d{3}Z$/, 'Z'));
      await writeFile(path.join(root, layout.uploadData(name, id)), 'partial');
    }
    const purged = await purgeUploads(registry, { ageMs: 7 * 24 * 3_600_000, dryRun: false }, silent, now);
    assert.equal(purged, 1);
    const left = await readdir(path.join(root, layout.uploadsDir(name)));
    assert.ok(left.includes(youngId) && !left.includes(oldId));
    // A session Distribution started is not one Dockyard can continue (it has no `state`).
    await assert.rejects(registry.repository(name).uploads.status(youngId), { code: 'BLOB_UPLOAD_UNKNOWN' });
  });
});
