import assert from 'node:assert/strict';
import { stat } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { beforeEach, describe, it } from 'node:test';
import { FilesystemDriver } from '../../src/storage/filesystem-driver.ts';
import { collectGarbage, type GcReport } from '../../src/storage/gc/garbage-collector.ts';
import { StorageRegistry } from '../../src/storage/storage-registry.ts';
import type { Client } from '../helpers/client.ts';
import { ociImage, randomBlob, sha256, type ImageFixture } from '../helpers/oci.ts';
import type { TestRegistry } from '../helpers/registry.ts';
import { PausingDriver, blobFile, logger, mountOrPush, pullsCompletely, pushManifest, registryPerTest } from './gc-support.ts';

/** Fetches a manifest (by the image's digest or `reference`) and every blob it references, checking each digest. */
const pullsImage = (client: Client, name: string, image: ImageFixture, reference = image.digest): Promise<void> =>
  pullsCompletely(client, name, reference, image.digest);

const pausePoints = [
  { at: 'before it removes the first layer link', method: 'delete' as const, match: (p: string) => p.includes('/_layers/') },
  { at: 'before it moves the first blob aside', method: 'move' as const, match: (p: string) => p.includes('/_gc/') },
  { at: 'after it moved blobs aside, before it deletes the first', method: 'delete' as const, match: (p: string) => p.includes('/_gc/') },
];

describe('garbage collection racing pushes', { timeout: 60_000 }, () => {
  const h = registryPerTest();
  let registry: TestRegistry;
  let client: Client;
  beforeEach(() => {
    ({ registry, client } = h);
  });

  for (const point of pausePoints) {
    it(`every image pushed while the collector is paused ${point.at} pulls whole, and the garbage still goes`, async () => {
      // Garbage made before the collection: an image whose manifest was deleted (its blobs are
      // reused by the racing pushes below) and an orphan blob nothing will claim.
      const victim = await client.pushImage('old', 'v1');
      assert.equal((await client.fetch(`/v2/old/manifests/${victim.digest}`, { method: 'DELETE' })).status, 202);
      const orphan = randomBlob(4096);
      assert.equal((await client.pushBlob('junk', orphan.data, orphan.digest)).status, 201);
      // An upload whose bytes are in before the collection starts and which completes during it.
      const fresh = ociImage({ layers: 1 });
      const session = await client.startUpload('fresh');
      assert.equal((await client.patchChunk(session, fresh.layers[0]!.data, 0)).status, 202);
      await sleep(20);

      // The collector runs as another process on the same storage would (or the CLI): its own driver.
      const driver = new PausingDriver(new FilesystemDriver(registry.root));
      const gate = driver.pauseAt(point.method, point.match);
      const gc = collectGarbage(new StorageRegistry(driver), { dryRun: false, deleteUntagged: false, delayMs: 0 }, logger);
      await gate.reached;

      // Linked and manifested during the collection: blobs stored before it, mounted from the
      // repository that held them (or uploaded again when the mount is refused)...
      for (const blob of [victim.config, ...victim.layers]) await mountOrPush(client, 'by-mount', 'old', blob);
      await pushManifest(client, 'by-mount', 'v1', victim);
      // ...and uploaded again (the registry already holds the bytes)...
      for (const blob of [victim.config, ...victim.layers]) assert.equal((await client.pushBlob('by-upload', blob.data, blob.digest)).status, 201);
      await pushManifest(client, 'by-upload', 'v1', victim);
      // ...and an upload started before, completed now.
      const sep = session.includes('?') ? '&' : '?';
      const done = await client.fetch(`${session}${sep}digest=${fresh.layers[0]!.digest}`, { method: 'PUT' });
      assert.equal(done.status, 201, await done.text());
      assert.equal((await client.pushBlob('fresh', fresh.config.data, fresh.config.digest)).status, 201);
      await pushManifest(client, 'fresh', 'v1', fresh);

      gate.release();
      const report: GcReport = await gc;

      await pullsImage(client, 'by-mount', victim, 'v1');
      await pullsImage(client, 'by-upload', victim, 'v1');
      await pullsImage(client, 'fresh', fresh, 'v1');
      // The collection did collect: the orphan and the victim's manifest link in "old" are gone.
      await assert.rejects(stat(blobFile(registry.root, orphan.digest)));
      assert.ok(report.blobsRemoved >= 1, `removed ${report.blobsRemoved}`);
      assert.equal((await client.fetch(`/v2/junk/blobs/${orphan.digest}`, { method: 'HEAD' })).status, 404);
      // A second collection (nothing racing) finds nothing more of the pushed images to take.
      await sleep(20);
      await collectGarbage(registry.registry, { dryRun: false, deleteUntagged: true, delayMs: 0 }, logger);
      await pullsImage(client, 'by-mount', victim, 'v1');
      await pullsImage(client, 'by-upload', victim, 'v1');
      await pullsImage(client, 'fresh', fresh, 'v1');
    });
  }

  it('a manifest whose PUT checked its blobs before the collector removed their links is served whole', async () => {
    // The blobs are linked in "stale" but no manifest references them: garbage, old.
    const victim = await client.pushImage('stale', 'v1');
    assert.equal((await client.fetch(`/v2/stale/manifests/${victim.digest}`, { method: 'DELETE' })).status, 202);
    await sleep(20);
    // Another replica's push of the same image: its check of the links passes, then it stalls
    // before writing the revision, while the collector removes the links and moves the blobs aside.
    const pusherDriver = new PausingDriver(new FilesystemDriver(registry.root));
    const stalled = pusherDriver.pauseAt('putContent', (p) => p.includes('/_manifests/revisions/'));
    const put = new StorageRegistry(pusherDriver).repository('stale' as never).manifests.put({ tag: 'v1' as never }, victim.manifest, victim.mediaType);
    await stalled.reached;
    const report = await collectGarbage(new StorageRegistry(new FilesystemDriver(registry.root)), { dryRun: false, deleteUntagged: false, delayMs: 0 }, logger, {
      // The push goes on while the collector waits before its last look.
      sleep: async () => {
        stalled.release();
        await put;
      },
    });
    await put;
    assert.equal(report.blobsRemoved, 0);
    assert.equal(report.layerLinksRemoved, 0);
    await pullsImage(client, 'stale', victim, 'v1');
  });

  it('random pushes and deletes during repeated collections: every image pushed and not deleted pulls whole', async () => {
    const delayMs = 1_000;
    const pool = Array.from({ length: 6 }, () => randomBlob(2048)); // layers images share
    const live: Array<{ name: string; image: ImageFixture }> = [];
    const deadline = Date.now() + 6_000;
    let pushes = 0;
    let deletes = 0;
    const worker = async (w: number): Promise<void> => {
      for (let i = 0; Date.now() < deadline; i++) {
        const name = `random/r${(w + i) % 3}`;
        if (live.length > 4 && Math.random() < 0.3) {
          const [gone] = live.splice(Math.floor(Math.random() * live.length), 1);
          const res = await client.fetch(`/v2/${gone!.name}/manifests/${gone!.image.digest}`, { method: 'DELETE' });
          await res.arrayBuffer();
          assert.equal(res.status, 202);
          deletes++;
          continue;
        }
        const image = ociImage({ layers: 1 });
        image.layers.push(pool[Math.floor(Math.random() * pool.length)]!);
        const body = JSON.parse(image.manifest.toString('utf8')) as { layers: unknown[] };
        body.layers.push({ mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', digest: image.layers[1]!.digest, size: 2048 });
        image.manifest = Buffer.from(JSON.stringify(body));
        image.digest = sha256(image.manifest);
        await client.pushImage(name, `t${w}-${i}`, image);
        live.push({ name, image });
        pushes++;
      }
    };
    const runs: GcReport[] = [];
    const collector = async (): Promise<void> => {
      while (Date.now() < deadline) runs.push(await registry.collectGarbage({ dryRun: false, deleteUntagged: false, delayMs }));
    };
    await Promise.all([worker(0), worker(1), worker(2), worker(3), collector()]);
    assert.ok(runs.length >= 3, `${runs.length} collections`);
    assert.ok(pushes >= 10 && deletes >= 2, `${pushes} pushes, ${deletes} deletes`);
    for (const { name, image } of live) await pullsImage(client, name, image);
    // Once the delay has passed, the deleted images' own blobs go; the live ones stay whole.
    await sleep(delayMs + 50);
    const last = await registry.collectGarbage({ dryRun: false, deleteUntagged: false, delayMs });
    const freed = runs.reduce((n, r) => n + r.bytesFreed, last.bytesFreed);
    assert.ok(freed > 0, 'the deleted images freed bytes');
    for (const { name, image } of live) await pullsImage(client, name, image);
  });
});
