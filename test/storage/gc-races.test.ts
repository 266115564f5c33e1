import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { readdir, stat } from 'node:fs/promises';
import * as path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, beforeEach, describe, it } from 'node:test';
import type { Event } from '../../src/notify/event.ts';
import type { StorageDriver } from '../../src/storage/driver.ts';
import { FilesystemDriver } from '../../src/storage/filesystem-driver.ts';
import { collectGarbage, type GcDependencies, type GcOptions } from '../../src/storage/gc/garbage-collector.ts';
import { StorageRegistry } from '../../src/storage/storage-registry.ts';
import { Client, bytes, errorCodes } from '../helpers/client.ts';
import { eventsOf } from '../helpers/receiver.ts';
import { ociImage, randomBlob, sha256 } from '../helpers/oci.ts';
import { startTestRegistry, type TestRegistry } from '../helpers/registry.ts';
import { startS3rver, type TestS3 } from '../helpers/s3rver.ts';
import { drained, startWithReceiver, type StartedHarness } from '../notify/support.ts';
import { PausingDriver, aged, holdServedCall, logger, pullsCompletely, status } from './gc-support.ts';

/**
 * The races the collector's protocol closes (collectGarbage's doc comment), each held at its exact
 * step: a request held in the serving registry between its check and its write (holdServedCall),
 * the collector, another process on the same root (its own driver and locks), held at one of its
 * steps (PausingDriver, or its settle time). Everything is then read back over HTTP.
 */
describe('garbage collection against requests held between their check and their write', { timeout: 60_000 }, () => {
  let h: StartedHarness;
  beforeEach(async () => {
    h = await startWithReceiver();
  });
  afterEach(() => h.stop());

  const KEEP_ALL: GcOptions = { dryRun: false, deleteUntagged: false, delayMs: 0 };
  const UNTAGGED: GcOptions = { dryRun: false, deleteUntagged: true, delayMs: 0 };
  /** A collection from another process's point of view: its own driver on the same root. */
  const collect = (options: GcOptions, driver: StorageDriver = new FilesystemDriver(h.registry.root), deps: GcDependencies = {}) =>
    collectGarbage(new StorageRegistry(driver), options, logger, deps);
  const served = () => h.registry.registry.driver;
  const events = async (): Promise<Event[]> => {
    await drained(h.registry);
    return h.receiver.requests.flatMap(eventsOf);
  };
  const gcDir = () => path.join(h.registry.root, 'docker/registry/v2/_gc');

  it('refuses with MANIFEST_BLOB_UNKNOWN a manifest whose blobs were deleted between its check and its revision, serves nothing of it and emits no push', async () => {
    const image = ociImage({ layers: 1 });
    for (const blob of [image.config, ...image.layers]) assert.equal((await h.client.pushBlob('app', blob.data, blob.digest)).status, 201);
    await aged(); // linked, referenced by nothing: garbage
    const held = holdServedCall(served(), 'putContent', (p) => p.includes('/app/_manifests/revisions/'));
    const put = h.client.pushManifest('app', 'v1', image.manifest, image.mediaType);
    await held.reached; // the PUT checked its blobs: both linked

    // The whole collection runs while the request is held: its last look finds no revision.
    const report = await collect(KEEP_ALL);
    assert.equal(report.blobsRemoved, 3, 'the config, the layer and the manifest bytes the PUT stored first');
    held.release();
    const res = await put;
    assert.equal(res.status, 404);
    assert.deepEqual(await errorCodes(res), ['MANIFEST_BLOB_UNKNOWN']);

    assert.equal(await status(h.client, '/v2/app/manifests/v1'), 404);
    assert.equal(await status(h.client, `/v2/app/manifests/${image.digest}`), 404);
    assert.ok(!(await events()).some((e) => e.action === 'push' && e.target.digest === image.digest), 'no push event for the refused manifest');
    // The client pushes again, blobs first, and the image is whole.
    await h.client.pushImage('app', 'v1', image);
    await pullsCompletely(h.client, 'app', 'v1', image.digest);
  });

  it('a manifest whose revision lands after the last look, while its blobs are still held, takes them back: served whole, its push emitted, nothing dropped', async () => {
    const image = ociImage({ layers: 1 });
    for (const blob of [image.config, ...image.layers]) assert.equal((await h.client.pushBlob('app', blob.data, blob.digest)).status, 201);
    await aged();
    const held = holdServedCall(served(), 'putContent', (p) => p.includes('/app/_manifests/revisions/'));
    const put = h.client.pushManifest('app', 'v1', image.manifest, image.mediaType);
    await held.reached;

    // The collector removes the links, moves the blobs aside, looks (no revision) and stops before its first drop.
    const driver = new PausingDriver(new FilesystemDriver(h.registry.root));
    const beforeDrop = driver.pauseAt('delete', (p) => p.includes('/_gc/'));
    const gc = collect(KEEP_ALL, driver);
    await beforeDrop.reached;
    held.release();
    const res = await put;
    assert.equal(res.status, 201, await res.text());
    beforeDrop.release();
    const report = await gc;

    assert.equal(report.blobsRemoved, 0, 'the drops found nothing: the push had taken the blobs back');
    await pullsCompletely(h.client, 'app', 'v1', image.digest);
    assert.ok((await events()).some((e) => e.action === 'push' && e.target.digest === image.digest), 'the push event');
    assert.deepEqual(await readdir(gcDir()), [], 'no quarantine left');
    assert.equal((await collect(KEEP_ALL)).blobsRemoved, 0, 'a second collection keeps the image');
    await pullsCompletely(h.client, 'app', 'v1', image.digest);
  });

  it('refuses a mount whose source blob was deleted between its check and its link (202: the client uploads) and emits no mount event', async () => {
    const blob = randomBlob(2048);
    assert.equal((await h.client.pushBlob('src', blob.data, blob.digest)).status, 201);
    await aged();
    const held = holdServedCall(served(), 'putContent', (p) => p.includes('/dst/_layers/'));
    const mount = h.client.fetch(`/v2/dst/blobs/uploads/?mount=${blob.digest}&from=src`, { method: 'POST' });
    await held.reached;
    assert.equal((await collect(KEEP_ALL)).blobsRemoved, 1);
    held.release();
    const res = await mount;
    await res.arrayBuffer();
    assert.equal(res.status, 202, 'the mount is refused: an upload session instead');

    assert.equal(await status(h.client, `/v2/dst/blobs/${blob.digest}`, 'HEAD'), 404, 'no link to nothing');
    assert.ok(!(await events()).some((e) => e.action === 'mount'), 'no mount event');
    const location = res.headers.get('location')!;
    const sep = location.includes('?') ? '&' : '?';
    const put = await h.client.fetch(`${location}${sep}digest=${blob.digest}`, { method: 'PUT', body: bytes(blob.data) });
    assert.equal(put.status, 201, await put.text());
    const got = await h.client.fetch(`/v2/dst/blobs/${blob.digest}`);
    assert.equal(sha256(Buffer.from(await got.arrayBuffer())), blob.digest);
  });

  it('an upload of a blob already stored, whose link lands after the stored copy was deleted, publishes its own bytes', async () => {
    const blob = randomBlob(2048);
    assert.equal((await h.client.pushBlob('old', blob.data, blob.digest)).status, 201);
    await aged();
    const held = holdServedCall(served(), 'putContent', (p) => p.includes('/new/_layers/'));
    const upload = h.client.pushBlob('new', blob.data, blob.digest); // its publish finds the blob stored and skips
    await held.reached;
    assert.equal((await collect(KEEP_ALL)).blobsRemoved, 1);
    held.release();
    const res = await upload;
    assert.equal(res.status, 201, await res.text());
    const got = await h.client.fetch(`/v2/new/blobs/${blob.digest}`);
    assert.equal(got.status, 200);
    assert.equal(sha256(Buffer.from(await got.arrayBuffer())), blob.digest);
  });

  it('--delete-untagged: a tag pushed onto an old untagged manifest after the collector looked for tags, before its delete, stays with its manifest', async () => {
    const untagged = ociImage({ layers: 1 });
    await h.client.pushImage('app', untagged.digest, untagged);
    await aged();
    const hex = untagged.digest.slice('sha256:'.length);
    const driver = new PausingDriver(new FilesystemDriver(h.registry.root));
    const beforeDelete = driver.pauseAt('delete', (p) => p.endsWith(`/app/_manifests/revisions/sha256/${hex}`));
    const gc = collect(UNTAGGED, driver);
    await beforeDelete.reached; // announced, and it found no tag on it

    // The push writes its revision and its tag, then waits for the collector's announcement to go.
    const put = h.client.pushManifest('app', 'v1', untagged.manifest, untagged.mediaType);
    const tagLink = path.join(h.registry.root, 'docker/registry/v2/repositories/app/_manifests/tags/v1/current/link');
    for (let i = 0; i < 250 && !existsSync(tagLink); i++) await sleep(20);
    assert.ok(existsSync(tagLink), 'the push wrote its tag');
    beforeDelete.release();
    const report = await gc;
    const res = await put;
    assert.equal(res.status, 201, await res.text());

    assert.equal(report.manifestsRemoved, 0, 'the revision is written back: the tag was found after the delete');
    assert.equal(report.blobsRemoved, 0);
    await pullsCompletely(h.client, 'app', 'v1', untagged.digest);
    const deletes = (await events()).filter((e) => e.action === 'delete');
    assert.deepEqual(deletes, [], 'nothing reported deleted');
  });

  it('--delete-untagged: a tag push whose tag lands after the collector deleted the revision writes the revision again and takes back its blobs', async () => {
    const untagged = ociImage({ layers: 1 });
    await h.client.pushImage('app', untagged.digest, untagged);
    const held = holdServedCall(served(), 'putContent', (p) => p.includes('/app/_manifests/tags/v1/current/link'));
    const put = h.client.pushManifest('app', 'v1', untagged.manifest, untagged.mediaType);
    await held.reached; // revision written and checked; the tag not yet
    await aged();

    // The collector deletes the revision (no tag yet), moves the image's blobs aside, and the tag
    // push goes on during its settle time.
    let answered: Response | undefined;
    const report = await collect(UNTAGGED, undefined, {
      sleep: async () => {
        held.release();
        answered = await put;
      },
    });
    assert.equal(answered?.status, 201, await answered?.text());
    assert.equal(report.manifestsRemoved, 1, 'the collector deleted the revision before the tag came');
    assert.equal(report.blobsRemoved, 0, 'and its last look kept what the push took back');
    await pullsCompletely(h.client, 'app', 'v1', untagged.digest);
    await sleep(5);
    assert.equal((await collect(UNTAGGED)).blobsRemoved, 0, 'a second collection keeps the tagged image');
    await pullsCompletely(h.client, 'app', 'v1', untagged.digest);
  });

  it('--delete-untagged: a push by digest of an old untagged manifest between the collector\'s last check and its delete waits for it, then writes the revision again', async () => {
    // A referrer (of a subject not pushed): its referrers entry must come back with it too.
    const subject = { mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: randomBlob(64).digest, size: 64 };
    const untagged = ociImage({ layers: 1, subject });
    await h.client.pushImage('app', untagged.digest, untagged);
    await aged();
    const hex = untagged.digest.slice('sha256:'.length);
    const link = path.join(h.registry.root, `docker/registry/v2/repositories/app/_manifests/revisions/sha256/${hex}/link`);
    const before = (await stat(link)).mtimeMs;
    const driver = new PausingDriver(new FilesystemDriver(h.registry.root));
    const beforeDelete = driver.pauseAt('delete', (p) => p.endsWith(`/app/_manifests/revisions/sha256/${hex}`));
    let answered: Response | undefined;
    let put: Promise<Response> | undefined;
    const gc = collect(UNTAGGED, driver, {
      sleep: async () => {
        answered = await put; // the push finishes before the collector's last look, if it holds anything
      },
    });
    await beforeDelete.reached; // announced, the revision's age and its tags checked: it goes

    put = h.client.pushManifest('app', untagged.digest, untagged.manifest, untagged.mediaType);
    for (let i = 0; i < 250 && (await stat(link)).mtimeMs === before; i++) await sleep(20);
    assert.notEqual((await stat(link)).mtimeMs, before, 'the push wrote its revision');
    beforeDelete.release(); // the collector deletes the revision the push just wrote
    const report = await gc;
    // (Written again before the collector's next mark, the revision keeps it all: nothing held, no settle time.)
    answered ??= await put;

    assert.equal(answered?.status, 201, await answered?.text());
    assert.equal(report.manifestsRemoved, 1, 'the collector deleted the revision');
    assert.equal(report.blobsRemoved, 0);
    await pullsCompletely(h.client, 'app', untagged.digest);
    const referrers = (await (await h.client.fetch(`/v2/app/referrers/${subject.digest}`)).json()) as { manifests: { digest: string }[] };
    assert.deepEqual(referrers.manifests.map((m) => m.digest), [untagged.digest], 'listed as its subject\'s referrer again');
    assert.deepEqual(await readdir(path.dirname(link)), ['link'], 'no announcement left');
  });
});

describe('garbage collection against a held request on S3 (s3rver; a move is a copy and a delete)', { timeout: 60_000 }, () => {
  let s3: TestS3;
  let registry: TestRegistry;
  beforeEach(async () => {
    s3 = await startS3rver();
    registry = await startTestRegistry({ storage: { filesystem: undefined, s3: s3.storageConfig(`races-${Date.now()}`), redirect: { disable: true } } });
  });
  afterEach(async () => {
    await registry.stop();
    await s3.stop();
  });

  it('a manifest whose revision lands after the last look takes its held blobs back from the bucket and is served whole', async () => {
    const client = new Client(registry.url);
    const image = ociImage({ layers: 1 });
    for (const blob of [image.config, ...image.layers]) assert.equal((await client.pushBlob('app', blob.data, blob.digest)).status, 201);
    await sleep(1_100); // S3's LastModified has whole seconds
    const held = holdServedCall(registry.registry.driver, 'putContent', (p) => p.includes('/app/_manifests/revisions/'));
    const put = client.pushManifest('app', 'v1', image.manifest, image.mediaType);
    await held.reached;

    // Another replica's collector (its own registry and locks over the bucket), stopped before its first drop.
    const driver = new PausingDriver(registry.registry.driver);
    const beforeDrop = driver.pauseAt('delete', (p) => p.includes('/_gc/'));
    const gc = collectGarbage(new StorageRegistry(driver), { dryRun: false, deleteUntagged: false, delayMs: 0 }, logger);
    await beforeDrop.reached;
    held.release();
    const res = await put;
    assert.equal(res.status, 201, await res.text());
    beforeDrop.release();
    const report = await gc;

    assert.equal(report.blobsRemoved, 0);
    await pullsCompletely(client, 'app', 'v1', image.digest);
  });
});

