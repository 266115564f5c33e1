import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { performance } from 'node:perf_hooks';
import { Readable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { parseDigest } from '../../src/oci/digest.ts';
import { parseRepoName, parseTag } from '../../src/oci/names.ts';
import { FilesystemDriver, TEMP_DIR } from '../../src/storage/filesystem-driver.ts';
import { layout } from '../../src/storage/layout.ts';
import { StorageRegistry } from '../../src/storage/storage-registry.ts';
import { isLeftover } from '../../src/storage/tmp-sweep.ts';
import { ForwardingDriver } from '../helpers/forwarding-driver.ts';
import { ociImage, randomBlob } from '../helpers/oci.ts';

const ROUNDS = 60;

/** Lets the event loop turn a random number of times (0..max), so each round interleaves differently. */
async function jitter(max = 12): Promise<void> {
  for (let n = Math.floor(Math.random() * (max + 1)); n > 0; n--) await new Promise((r) => setImmediate(r));
}

async function tempRegistry() {
  const root = await mkdtemp(path.join(tmpdir(), 'dockyard-tag-races-'));
  const driver = new FilesystemDriver(root, { fsync: false });
  return { root, driver, registry: new StorageRegistry(driver), cleanup: () => rm(root, { recursive: true, force: true }) };
}

type Setup = Awaited<ReturnType<typeof tempRegistry>>;

/** A filesystem driver whose deletes of the paths `held` picks wait until released: a slow disk, on cue. */
class HoldingDriver extends ForwardingDriver {
  held: (path: string) => boolean = () => false;
  private release: Promise<void> = Promise.resolve();
  private releaseNow: () => void = () => undefined;
  private enteredNow: () => void = () => undefined;
  /** Settles when a held delete has started (and is waiting). */
  entered: Promise<void> = Promise.resolve();
  hold(held: (path: string) => boolean): void {
    this.held = held;
    this.release = new Promise((r) => (this.releaseNow = r));
    this.entered = new Promise((r) => (this.enteredNow = r));
  }
  letGo(): void {
    this.held = () => false;
    this.releaseNow();
  }
  override async delete(p: string): Promise<void> {
    if (this.held(p)) {
      this.enteredNow();
      await this.release;
    }
    return this.inner.delete(p);
  }
}

/** An image whose blobs are already in `repo`, ready for its manifest to be pushed. */
async function stagedImage(t: { registry: StorageRegistry }, repo: string) {
  const r = t.registry.repository(parseRepoName(repo));
  const image = ociImage({ layers: 1 });
  for (const blob of [image.config, ...image.layers]) {
    const upload = await r.uploads.start();
    await r.uploads.complete(upload.id, parseDigest(blob.digest), Readable.from([blob.data]), {});
  }
  return { image, digest: parseDigest(image.digest) };
}

describe('tag writes racing a manifest delete', () => {
  let t: Setup;
  before(async () => {
    t = await tempRegistry();
  });
  after(() => t.cleanup());

  it(`keeps a tag that a push moved to another manifest while the old one was deleted (${ROUNDS} rounds)`, async (ctx) => {
    const r = t.registry.repository(parseRepoName('race/delete-push'));
    const removedByDelete = { yes: 0, no: 0 };
    for (let round = 0; round < ROUNDS; round++) {
      const tag = parseTag(`t${round}`);
      const d = await stagedImage(t, r.name);
      const e = await stagedImage(t, r.name);
      await r.manifests.put({ tag }, d.image.manifest, d.image.mediaType);

      const [deleted] = await Promise.all([
        jitter(4).then(() => r.manifests.delete(d.digest)),
        jitter(24).then(() => r.manifests.put({ tag }, e.image.manifest, e.image.mediaType)),
      ]);

      // Whichever ran first, the push completed: its tag must name it now. The delete may have
      // taken the tag along only while it still named D.
      assert.equal((await r.manifests.stat({ tag })).digest, e.digest, `round ${round}: tag lost or stale`);
      assert.equal((await r.manifests.get({ tag })).digest, e.digest);
      await assert.rejects(r.manifests.stat({ digest: d.digest }), { code: 'MANIFEST_UNKNOWN' });
      assert.deepEqual(await r.tags.pointingAt(e.digest), [tag]);
      assert.deepEqual(await r.tags.pointingAt(d.digest), []);
      if (deleted.tags.includes(tag)) removedByDelete.yes++;
      else removedByDelete.no++;
    }
    // Not asserted (timing decides), but worth seeing when the race is being exercised at all.
    ctx.diagnostic(`the delete took the tag before the push in ${removedByDelete.yes}/${ROUNDS} rounds`);
  });

  it('makes a push to a tag wait for a removal of that tag that has already checked it', async () => {
    const root = await mkdtemp(path.join(tmpdir(), 'dockyard-tag-hold-'));
    try {
      const driver = new HoldingDriver(new FilesystemDriver(root, { fsync: false }));
      const held = { registry: new StorageRegistry(driver) };
      const r = held.registry.repository(parseRepoName('race/held'));
      const tag = parseTag('latest');
      const d = await stagedImage(held, r.name);
      const e = await stagedImage(held, r.name);
      await r.manifests.put({ tag }, d.image.manifest, d.image.mediaType);

      // The delete has seen `latest` -> D and is about to remove the tag's directory ...
      driver.hold((p) => p === layout.tagDir(r.name, tag));
      const deleting = r.manifests.delete(d.digest);
      await driver.entered;
      // ... when E is pushed to `latest`. Given time, it must not slip its tag in before the removal.
      const pushing = r.manifests.put({ tag }, e.image.manifest, e.image.mediaType);
      await new Promise((resolve) => setTimeout(resolve, 100));
      driver.letGo();
      const [deleted] = await Promise.all([deleting, pushing]);

      assert.deepEqual(deleted.tags, [tag]);
      assert.equal((await r.manifests.stat({ tag })).digest, e.digest);
    } finally {
      await rm(root, { recursive: true, force: true });
    }
  });

  it(`ends a tag delete racing a push of that tag in one of the two serial outcomes (${ROUNDS} rounds)`, async () => {
    const r = t.registry.repository(parseRepoName('race/untag-push'));
    for (let round = 0; round < ROUNDS; round++) {
      const tag = parseTag(`t${round}`);
      const d = await stagedImage(t, r.name);
      const e = await stagedImage(t, r.name);
      await r.manifests.put({ tag }, d.image.manifest, d.image.mediaType);

      const [untag] = await Promise.allSettled([
        jitter().then(() => r.tags.delete(tag)),
        jitter().then(() => r.manifests.put({ tag }, e.image.manifest, e.image.mediaType)),
      ]);

      const now = await r.tags.pointingAt(e.digest);
      assert.equal(untag.status, 'fulfilled', `round ${round}: the tag existed throughout`);
      if (untag.value === d.digest) {
        // Delete first (it removed D's tag), then the push: T -> E. Or push first, then the
        // delete saw E; that case is the branch below.
        assert.deepEqual(now, [tag], `round ${round}: push after the delete must leave T -> E`);
      } else {
        assert.equal(untag.value, e.digest);
        assert.deepEqual(now, [], `round ${round}: a delete after the push removes T`);
        await assert.rejects(r.manifests.stat({ tag }), { code: 'MANIFEST_UNKNOWN' });
      }
    }
  });

  it('serializes many pushes of one tag with deletes of the manifests it named', async () => {
    const r = t.registry.repository(parseRepoName('race/many'));
    const tag = parseTag('latest');
    const images = await Promise.all(Array.from({ length: 8 }, () => stagedImage(t, r.name)));
    for (const { image } of images.slice(0, 4)) await r.manifests.put({ tag }, image.manifest, image.mediaType);
    const last = images[images.length - 1]!;
    // The first four go away while the last four are pushed to the same tag, the last one last.
    await Promise.all([
      ...images.slice(0, 4).map(({ digest }) => jitter().then(() => r.manifests.delete(digest))),
      (async () => {
        for (const { image } of images.slice(4)) {
          await jitter(3);
          await r.manifests.put({ tag }, image.manifest, image.mediaType);
        }
      })(),
    ]);
    assert.equal((await r.manifests.stat({ tag })).digest, last.digest);
    assert.deepEqual(await r.tags.list(), ['latest']);
  });
});

describe('tags pointing at a digest', () => {
  let t: Setup;
  before(async () => {
    t = await tempRegistry();
  });
  after(() => t.cleanup());

  it('are none in a repository that does not exist', async () => {
    const r = t.registry.repository(parseRepoName('no/such/repo'));
    assert.deepEqual(await r.tags.pointingAt(parseDigest(randomBlob(8).digest)), []);
    await assert.rejects(r.tags.list(), { code: 'NAME_UNKNOWN' });
  });

  it('are the sorted tags whose link names it, and none other', async () => {
    const r = t.registry.repository(parseRepoName('pointing/at'));
    const a = await stagedImage(t, r.name);
    const b = await stagedImage(t, r.name);
    for (const tag of ['v2', 'latest', 'v10']) await r.manifests.put({ tag: parseTag(tag) }, a.image.manifest, a.image.mediaType);
    await r.manifests.put({ tag: parseTag('other') }, b.image.manifest, b.image.mediaType);
    assert.deepEqual(await r.tags.pointingAt(a.digest), ['latest', 'v10', 'v2']);
    assert.deepEqual(await r.tags.pointingAt(b.digest), ['other']);
    assert.deepEqual(await r.tags.pointingAt(parseDigest(randomBlob(8).digest)), []);
  });
});

describe('the sweep of the filesystem driver temp directory', () => {
  let t: Setup;
  before(async () => {
    t = await tempRegistry();
  });
  after(() => t.cleanup());

  /** Names in the style the driver uses, timed before this process started: an earlier run's. */
  const earlier = (kind: string, msBefore = 1) =>
    `${Math.floor(performance.timeOrigin) - msBefore}-0b7e1c5e-4f3a-4b1e-9d2a-1c2b3d4e5f60-${Math.random().toString(16).slice(2)}.${kind}`;

  it('tells leftovers of earlier processes from entries this one may be using', () => {
    const start = Math.floor(performance.timeOrigin);
    assert.equal(isLeftover(earlier('file')), true);
    assert.equal(isLeftover(`${start - 7_200_000}-0b7e1c5e-4f3a-4b1e-9d2a-1c2b3d4e5f60.dir`), true); // older versions' names
    assert.equal(isLeftover('not-a-temp-name'), true);
    assert.equal(isLeftover(`${Date.now() + 1000}-abcdef-x.file`), false); // someone else's, after this start
  });

  it('removes files and trees an earlier run left, keeps the store readable, and counts them', async () => {
    const temp = path.join(t.root, TEMP_DIR);
    await mkdir(temp, { recursive: true });
    const staged = earlier('dir');
    const trash = earlier('trash', 3_600_000);
    await mkdir(path.join(temp, staged, 'tags', 'v1', 'current'), { recursive: true });
    await writeFile(path.join(temp, staged, 'tags', 'v1', 'current', 'link'), 'sha256:0');
    await mkdir(path.join(temp, trash, 'deep', 'er'), { recursive: true });
    await writeFile(path.join(temp, trash, 'deep', 'er', 'data'), randomBlob(64).data);
    await writeFile(path.join(temp, earlier('file')), 'half a manifest');
    await writeFile(path.join(temp, 'stray'), 'x');
    const young = `${Date.now() + 60_000}-0123456789ab-1b7e1c5e-4f3a-4b1e-9d2a-1c2b3d4e5f60.file`;
    await writeFile(path.join(temp, young), 'a writer after this start');

    assert.equal(await t.driver.sweepTemp(), 4);
    assert.deepEqual(await readdir(temp), [young]);
    assert.equal(await t.driver.sweepTemp(), 0, 'nothing left to sweep');
    await rm(path.join(temp, young));

    // The store around it works as before.
    const r = t.registry.repository(parseRepoName('sweep/after'));
    const img = await stagedImage(t, r.name);
    await r.manifests.put({ tag: parseTag('v1') }, img.image.manifest, img.image.mediaType);
    assert.equal((await r.manifests.get({ tag: parseTag('v1') })).digest, img.digest);
    assert.deepEqual(await readdir(temp), []);
  });

  it('stops after its limit and leaves the rest for the next sweep', async () => {
    const temp = path.join(t.root, TEMP_DIR);
    for (let i = 0; i < 5; i++) await writeFile(path.join(temp, earlier('file')), String(i));
    assert.equal(await t.driver.sweepTemp(2), 2);
    assert.equal((await readdir(temp)).length, 3);
    assert.equal(await t.driver.sweepTemp(), 3);
  });

  it('never touches the entries of this process, even while it writes', async () => {
    const temp = path.join(t.root, TEMP_DIR);
    const r = t.registry.repository(parseRepoName('sweep/concurrent'));
    const images = await Promise.all(Array.from({ length: 6 }, () => stagedImage(t, r.name)));
    for (let i = 0; i < 20; i++) await writeFile(path.join(temp, earlier('file')), String(i));
    let swept = 0;
    await Promise.all([
      ...images.map(({ image }, i) => r.manifests.put({ tag: parseTag(`v${i}`) }, image.manifest, image.mediaType)),
      (async () => {
        for (let i = 0; i < 10; i++) {
          swept += await t.driver.sweepTemp();
          await jitter(2);
        }
      })(),
      ...images.slice(0, 3).map(({ digest }) => jitter().then(() => r.manifests.delete(digest).catch(() => undefined))),
    ]);
    assert.equal(swept, 20);
    for (const [i, { digest }] of images.entries()) {
      if (i >= 3) assert.equal((await r.manifests.stat({ tag: parseTag(`v${i}`) })).digest, digest);
    }
    assert.deepEqual(await readdir(temp), []);
  });

  it('has nothing to sweep before the temp directory exists', async () => {
    const fresh = await tempRegistry();
    try {
      assert.equal(await fresh.driver.sweepTemp(), 0);
    } finally {
      await fresh.cleanup();
    }
  });
});
