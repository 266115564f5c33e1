import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, it } from 'node:test';
import { ociImage, randomBlob } from '../helpers/oci.ts';
import { drained, eventually, received, resetBeforeEach, useWithReceiver, OCTET } from './support.ts';

describe("garbage collection's events", { timeout: 60_000 }, () => {
  const h = useWithReceiver();
  resetBeforeEach(h);

  it('a dry run deletes nothing and emits nothing', async () => {
    const image = await h.client.pushImage('dry', 'v1');
    const orphan = randomBlob(200);
    await h.client.pushBlob('dry', orphan.data, orphan.digest);
    assert.equal((await h.client.fetch(`/v2/dry/manifests/${image.digest}`, { method: 'DELETE' })).status, 202);
    await drained(h.registry);
    h.receiver.clear();
    await sleep(15);
    const report = await h.registry.collectGarbage({ dryRun: true, deleteUntagged: false, delayMs: 0 });
    assert.equal(report.blobsRemoved, 5);
    assert.deepEqual(await received(h), []);
    assert.equal((await h.client.fetch(`/v2/dry/blobs/${orphan.digest}`, { method: 'HEAD' })).status, 200);
    await sleep(15);
    await h.registry.collectGarbage({ dryRun: false, deleteUntagged: false, delayMs: 0 }); // leave nothing to the next test
  });

  it("emits ordinary delete events for what it removes, with actor.internal \"gc\" and no actor.name", async () => {
    const kept = await h.client.pushImage('app', 'v1');
    const untagged = await h.client.pushImage('app', 'v0', ociImage({ layers: 1 }));
    assert.equal((await h.client.fetch('/v2/app/manifests/v0', { method: 'DELETE' })).status, 202); // the tag only
    const orphan = randomBlob(300);
    await h.client.pushBlob('app', orphan.data, orphan.digest);
    await drained(h.registry);
    h.receiver.clear();
    await sleep(15);

    const report = await h.registry.collectGarbage({ dryRun: false, deleteUntagged: true, delayMs: 0 });
    assert.equal(report.manifestsRemoved, 1);
    assert.equal(report.layerLinksRemoved, 3); // the untagged image's config and layer, the orphan
    assert.equal(report.blobsRemoved, 4);

    await eventually(async () => (await received(h)).length >= 4, 'four delete events');
    const events = await received(h);
    assert.deepEqual(events.map((e) => e.action), ['delete', 'delete', 'delete', 'delete']);
    for (const e of events) {
      assert.deepEqual(e.actor, { internal: 'gc' });
      assert.equal(e.target.repository, 'app');
      assert.equal(e.request.useragent, 'dockyard-gc');
    }
    assert.equal(new Set(events.map((e) => e.request.id)).size, 1, 'one run, one request id');
    const manifest = events.find((e) => e.target.digest === untagged.digest);
    assert.equal(manifest?.target.mediaType, untagged.mediaType);
    const blobs = events.filter((e) => e.target.mediaType === OCTET).map((e) => e.target.digest).sort();
    assert.deepEqual(blobs, [untagged.config.digest, untagged.layers[0]!.digest, orphan.digest].sort());
    assert.ok(!events.some((e) => [kept.digest, kept.config.digest].includes(e.target.digest ?? '')));
  });

  it('a collection that finds nothing to remove emits nothing', async () => {
    await h.client.pushImage('quiet', 'v1');
    await drained(h.registry);
    h.receiver.clear();
    await sleep(15);
    const report = await h.registry.collectGarbage({ dryRun: false, deleteUntagged: true, delayMs: 0 });
    assert.equal(report.blobsRemoved + report.manifestsRemoved + report.layerLinksRemoved, 0);
    assert.deepEqual(await received(h), []);
  });
});

describe('the scheduled collection (storage.gc)', { timeout: 60_000 }, () => {
  const h = useWithReceiver({ config: { storage: { gc: { enabled: true, interval: '200ms', delay: '1s' } } } });

  // A delay of 1 s: the push below (blobs, then the manifest) is younger than that at every run.
  it("runs on its own and reports a deleted manifest's blobs as gc deletes", async () => {
    const image = await h.client.pushImage('sched', 'v1', ociImage({ layers: 1 }));
    assert.equal((await h.client.fetch(`/v2/sched/manifests/${image.digest}`, { method: 'DELETE' })).status, 202);
    await eventually(async () => {
      const deletes = (await received(h)).filter((e) => e.action === 'delete' && e.actor.internal === 'gc');
      return deletes.length === 2;
    }, 'the scheduled collection removes the config and layer links', 10_000);
    assert.equal((await h.client.fetch(`/v2/sched/blobs/${image.layers[0]!.digest}`, { method: 'HEAD' })).status, 404);
  });
});
