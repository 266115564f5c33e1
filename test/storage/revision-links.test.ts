import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { Readable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { parseDigest, type Digest } from '../../src/oci/digest.ts';
import { parseRepoName, parseTag } from '../../src/oci/names.ts';
import { FilesystemDriver } from '../../src/storage/filesystem-driver.ts';
import { layout } from '../../src/storage/layout.ts';
import { StorageRegistry } from '../../src/storage/storage-registry.ts';
import { MediaTypes, ociImage, sha256 } from '../helpers/oci.ts';

describe('revision and tag links, as Distribution writes them', () => {
  let root: string;
  const name = parseRepoName('links/app');

  before(async () => {
    root = await mkdtemp(path.join(tmpdir(), 'dockyard-links-'));
  });
  after(async () => {
    await rm(root, { recursive: true, force: true });
  });

  /** A registry with nothing in memory: what it knows, it read from storage. */
  const fresh = () => new StorageRegistry(new FilesystemDriver(root)).repository(name);

  async function pushBlobs(blobs: { data: Buffer; digest: string }[]): Promise<void> {
    const r = fresh();
    for (const b of blobs) {
      const upload = await r.uploads.start();
      await r.uploads.complete(upload.id, parseDigest(b.digest), Readable.from([b.data]), {});
    }
  }

  it('writes the digest alone (no newline) into the revision link, the tag link and the tag index link', async () => {
    const image = ociImage();
    await pushBlobs([image.config, ...image.layers]);
    const { digest } = await fresh().manifests.put({ tag: parseTag('v1') }, image.manifest, image.mediaType);
    const read = (p: string) => readFile(path.join(root, p), 'utf8');
    assert.equal(await read(layout.revisionLink(name, digest)), digest);
    assert.equal(await read(layout.tagLink(name, parseTag('v1'))), digest);
    assert.equal(await read(layout.tagIndexLink(name, parseTag('v1'), digest)), digest);
  });

  it('reads the media type back from the manifest bytes, the mediaType field or, without one, the content', async () => {
    const image = ociImage();
    const bare = JSON.parse(image.manifest.toString('utf8')) as Record<string, unknown>;
    delete bare.mediaType;
    const body = Buffer.from(JSON.stringify(bare));
    await pushBlobs([image.config, ...image.layers]);
    await fresh().manifests.put({ tag: parseTag('bare') }, body, MediaTypes.ociManifest);
    const index = Buffer.from(JSON.stringify({ schemaVersion: 2, manifests: [{ mediaType: MediaTypes.ociManifest, digest: sha256(body), size: body.length }] }));
    await fresh().manifests.put({ tag: parseTag('index') }, index, MediaTypes.ociIndex);

    assert.equal((await fresh().manifests.stat({ tag: parseTag('bare') })).mediaType, MediaTypes.ociManifest);
    assert.equal((await fresh().manifests.stat({ tag: parseTag('index') })).mediaType, MediaTypes.ociIndex);
    await assert.rejects(fresh().manifests.stat({ tag: parseTag('index') }, [MediaTypes.ociManifest]), { code: 'MANIFEST_UNKNOWN' });
  });

  it('refuses a Docker manifest whose bytes do not say they are one (Distribution refuses it too)', async () => {
    const image = ociImage();
    const bare = JSON.parse(image.manifest.toString('utf8')) as Record<string, unknown>;
    delete bare.mediaType;
    await pushBlobs([image.config, ...image.layers]);
    await assert.rejects(
      fresh().manifests.put({ tag: parseTag('docker') }, Buffer.from(JSON.stringify(bare)), MediaTypes.dockerManifest),
      { code: 'MANIFEST_INVALID' },
    );
  });

  it('still reads a JSON revision link an earlier Dockyard wrote, with the media type it recorded', async () => {
    const image = ociImage();
    await pushBlobs([image.config, ...image.layers]);
    const { digest } = await fresh().manifests.put({ tag: parseTag('old') }, image.manifest, image.mediaType);
    const driver = new FilesystemDriver(root);
    await driver.putContent(layout.revisionLink(name, digest as Digest), JSON.stringify({ digest, mediaType: image.mediaType }));
    const got = await fresh().manifests.get({ tag: parseTag('old') });
    assert.equal(got.mediaType, image.mediaType);
    assert.ok(got.content.equals(image.manifest));
  });
});

describe('the referrers index of a repository Distribution wrote', () => {
  let root: string;
  before(async () => {
    root = await mkdtemp(path.join(tmpdir(), 'dockyard-referrers-'));
  });
  after(async () => {
    await rm(root, { recursive: true, force: true });
  });

  it('is rebuilt from the manifests at the first referrers request, once, and a name without manifests leaves no trace', async () => {
    const driver = new FilesystemDriver(root);
    const name = parseRepoName('ref/app');
    const r = new StorageRegistry(driver).repository(name);
    const subject = ociImage();
    const referrer = ociImage({ subject: { mediaType: subject.mediaType, digest: subject.digest, size: subject.manifest.length }, artifactType: 'application/vnd.test.sig' });
    for (const b of [subject.config, ...subject.layers, referrer.config, ...referrer.layers]) {
      const upload = await r.uploads.start();
      await r.uploads.complete(upload.id, parseDigest(b.digest), Readable.from([b.data]), {});
    }
    await r.manifests.put({ tag: parseTag('v1') }, subject.manifest, subject.mediaType);
    const { digest } = await r.manifests.put({ digest: parseDigest(referrer.digest) }, referrer.manifest, referrer.mediaType);
    // What Distribution leaves: the manifests, and no index at all.
    await driver.delete(layout.referrersRoot(name));

    const listed = await new StorageRegistry(driver).repository(name).referrers.list(parseDigest(subject.digest));
    assert.deepEqual(listed.map((d) => [d.digest, d.artifactType]), [[digest, 'application/vnd.test.sig']]);
    await driver.stat(layout.referrersComplete(name));

    const nobody = parseRepoName('ref/nobody');
    assert.deepEqual(await new StorageRegistry(driver).repository(nobody).referrers.list(parseDigest(subject.digest)), []);
    await assert.rejects(driver.stat(layout.repository(nobody)), { name: 'PathNotFoundError' });
  });
});
