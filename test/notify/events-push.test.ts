import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { bytes, withDigest } from '../helpers/client.ts';
import { imageIndex, manifestDescriptor, MediaTypes, ociImage, randomBlob, sha256 } from '../helpers/oci.ts';
import {
  actions, assertEnvelopes, assertGoldenShape, assertRequest, blobTarget, drained, manifestTarget,
  received, resetBeforeEach, useWithReceiver,
} from './support.ts';

/** Pushes and mounts, each driven over HTTP, and the exact events a real receiver gets for them. */
describe('events for pushes and mounts', { timeout: 60_000 }, () => {
  const h = useWithReceiver();
  resetBeforeEach(h);

  it('emits one push event for a monolithic blob push, shaped like Distribution’s', async () => {
    const blob = randomBlob(777);
    const res = await h.client.pushBlob('mono/app', blob.data, blob.digest);
    assert.equal(res.status, 201);
    const events = await received(h);
    assert.equal(events.length, 1, actions(events).join(', '));
    const [e] = events;
    assert.equal(e!.action, 'push');
    assert.deepEqual(e!.target, blobTarget(h.registry, 'mono/app', blob));
    assertRequest(e!, h.registry, 'PUT');
    assertGoldenShape(e!, 'push-blob');
    assert.equal(h.receiver.accepted().length, 1, 'one request per event without batching');
  });

  it('emits one push event for a single-request push (POST ?digest=) with method POST', async () => {
    const blob = randomBlob(300);
    const res = await h.client.fetch(`/v2/single/app/blobs/uploads/?digest=${encodeURIComponent(blob.digest)}`, {
      method: 'POST',
      body: bytes(blob.data),
      headers: { 'content-type': 'application/octet-stream' },
    });
    assert.equal(res.status, 201);
    const events = await received(h);
    assert.equal(events.length, 1, actions(events).join(', '));
    assert.deepEqual(events[0]!.target, blobTarget(h.registry, 'single/app', blob));
    assertRequest(events[0]!, h.registry, 'POST');
  });

  it('emits nothing for the chunks of a chunked push and one push event when it completes', async () => {
    const blob = randomBlob(3000);
    let location = await h.client.startUpload('chunked/app');
    for (let start = 0; start < 2000; start += 1000) {
      const res = await h.client.patchChunk(location, blob.data.subarray(start, start + 1000), start);
      assert.equal(res.status, 202);
      location = res.headers.get('location')!;
    }
    assert.deepEqual(actions(await received(h)), [], 'no event before the upload completes');
    const last = blob.data.subarray(2000);
    const res = await h.client.fetch(withDigest(location, blob.digest), {
      method: 'PUT',
      body: bytes(last),
      headers: { 'content-type': 'application/octet-stream', 'content-range': `2000-${blob.data.length - 1}` },
    });
    assert.equal(res.status, 201, await res.text());
    const events = await received(h);
    assert.equal(events.length, 1, actions(events).join(', '));
    assert.deepEqual(events[0]!.target, blobTarget(h.registry, 'chunked/app', blob));
    assertRequest(events[0]!, h.registry, 'PUT');
  });

  it('emits one event per blob and one manifest push naming the tag, in push order, without references by default', async () => {
    const image = ociImage({ layers: 2 });
    await h.client.pushImage('img/app', 'v1', image);
    const events = await received(h);
    assert.equal(events.length, 4, actions(events).join(', '));
    for (const [i, blob] of [image.config, ...image.layers].entries()) {
      assert.deepEqual(events[i]!.target, blobTarget(h.registry, 'img/app', blob), `blob event ${i}`);
    }
    const m = events[3]!;
    assert.equal(m.action, 'push');
    assert.deepEqual(m.target, manifestTarget(h.registry, 'img/app', image, 'v1'));
    assertRequest(m, h.registry, 'PUT');
    assertGoldenShape(m, 'push-manifest', { without: ['references'] });
    assert.equal(new Set(events.map((e) => e.id)).size, 4, 'event ids are unique');
    assert.equal(new Set(events.map((e) => e.request.id)).size, 4, 'each push is its own request');
  });

  it('emits a push without a tag for a manifest pushed by digest', async () => {
    const image = ociImage({ layers: 1 });
    for (const b of [image.config, ...image.layers]) assert.equal((await h.client.pushBlob('bydigest/app', b.data, b.digest)).status, 201);
    await drained(h.registry);
    h.receiver.clear();
    const res = await h.client.pushManifest('bydigest/app', image.digest, image.manifest, image.mediaType);
    assert.equal(res.status, 201);
    const events = await received(h);
    assert.equal(events.length, 1, actions(events).join(', '));
    assert.deepEqual(events[0]!.target, manifestTarget(h.registry, 'bydigest/app', image));
  });

  it('emits one push per child of an index pushed separately, then one for the index', async () => {
    const children = [ociImage({ layers: 1 }), ociImage({ layers: 1 })];
    for (const child of children) {
      for (const b of [child.config, ...child.layers]) assert.equal((await h.client.pushBlob('multi/app', b.data, b.digest)).status, 201);
    }
    await drained(h.registry);
    h.receiver.clear();
    for (const child of children) {
      assert.equal((await h.client.pushManifest('multi/app', child.digest, child.manifest, child.mediaType)).status, 201);
    }
    const index = imageIndex(children.map(manifestDescriptor));
    assert.equal((await h.client.pushManifest('multi/app', 'latest', index.manifest, index.mediaType)).status, 201);
    const events = await received(h);
    assert.equal(events.length, 3, actions(events).join(', '));
    assert.deepEqual(events[0]!.target, manifestTarget(h.registry, 'multi/app', children[0]!));
    assert.deepEqual(events[1]!.target, manifestTarget(h.registry, 'multi/app', children[1]!));
    assert.deepEqual(events[2]!.target, manifestTarget(h.registry, 'multi/app', index, 'latest'));
    assert.equal(events[2]!.target.mediaType, MediaTypes.ociIndex);
  });

  it('emits one mount event naming fromRepository for a cross-repository mount, shaped like Distribution’s', async () => {
    const blob = randomBlob(2048);
    assert.equal((await h.client.pushBlob('mount/source', blob.data, blob.digest)).status, 201);
    await drained(h.registry);
    h.receiver.clear();
    const res = await h.client.fetch(`/v2/mount/dest/blobs/uploads/?mount=${blob.digest}&from=mount/source`, { method: 'POST' });
    assert.equal(res.status, 201);
    const events = await received(h);
    assert.equal(events.length, 1, actions(events).join(', '));
    const e = events[0]!;
    assert.equal(e.action, 'mount');
    assert.deepEqual(e.target, {
      mediaType: 'application/octet-stream',
      size: blob.data.length,
      digest: blob.digest,
      length: blob.data.length,
      repository: 'mount/dest',
      fromRepository: 'mount/source',
      url: `${h.registry.url}/v2/mount/dest/blobs/${blob.digest}`,
    });
    assertRequest(e, h.registry, 'POST');
    assertGoldenShape(e, 'mount-blob');
  });

  it('emits nothing for a mount that falls back to an upload session', async () => {
    const blob = randomBlob(100);
    const res = await h.client.fetch(`/v2/mount/other/blobs/uploads/?mount=${blob.digest}&from=mount/nowhere`, { method: 'POST' });
    assert.equal(res.status, 202);
    assert.deepEqual(actions(await received(h)), []);
  });

  it('emits nothing for rejected pushes: digest mismatch, missing blob, wrong manifest digest, bad chunk, cancelled upload', async () => {
    const blob = randomBlob(500);
    const wrong = sha256(Buffer.from('not the content'));
    assert.equal((await h.client.pushBlob('reject/app', blob.data, wrong)).status, 400, 'PUT with a mismatching digest');
    const single = await h.client.fetch(`/v2/reject/app/blobs/uploads/?digest=${encodeURIComponent(wrong)}`, {
      method: 'POST',
      body: bytes(blob.data),
      headers: { 'content-type': 'application/octet-stream' },
    });
    assert.equal(single.status, 400, 'single-request push with a mismatching digest');

    const image = ociImage({ layers: 1 });
    const missing = await h.client.pushManifest('reject/app', 'v1', image.manifest, image.mediaType);
    assert.ok([400, 404].includes(missing.status), `manifest referencing blobs never pushed: ${missing.status}`);
    const invalid = await h.client.pushManifest('reject/app', 'v1', Buffer.from('{"schemaVersion": 2'), MediaTypes.ociManifest);
    assert.equal(invalid.status, 400, 'manifest that is not JSON');

    const location = await h.client.startUpload('reject/app');
    const outOfOrder = await h.client.patchChunk(location, blob.data.subarray(0, 100), 50);
    assert.equal(outOfOrder.status, 416, 'chunk out of order');
    assert.equal((await h.client.fetch(location, { method: 'DELETE' })).status, 204, 'cancel');

    for (const b of [image.config, ...image.layers]) await h.client.pushBlob('reject/app', b.data, b.digest);
    await drained(h.registry);
    h.receiver.clear();
    const byWrongDigest = await h.client.pushManifest('reject/app', wrong, image.manifest, image.mediaType);
    assert.equal(byWrongDigest.status, 400, 'manifest PUT by a digest that is not its own');
    assert.deepEqual(actions(await received(h)), [], 'no event for any rejected operation');

    // The pipeline is alive: the next good operation is reported, alone.
    assert.equal((await h.client.pushBlob('reject/app', blob.data, blob.digest)).status, 201);
    const events = await received(h);
    assert.deepEqual(actions(events), [`push reject/app@${blob.digest.slice(7, 19)}`]);
  });
});

describe('events with notifications.events.includereferences on', { timeout: 60_000 }, () => {
  const h = useWithReceiver({ notifications: { events: { includereferences: true } } });

  it('lists the config and layers of an image, and the children of an index, as references', async () => {
    const child = ociImage({ layers: 2 });
    await h.client.pushImage('refs/app', 'v1', child);
    const index = imageIndex([manifestDescriptor(child)]);
    assert.equal((await h.client.pushManifest('refs/app', 'all', index.manifest, index.mediaType)).status, 201);
    const pull = await h.client.fetch('/v2/refs/app/manifests/v1');
    assert.equal(pull.status, 200);
    await pull.arrayBuffer();
    await drained(h.registry);
    const events = assertEnvelopes(h.receiver);
    assert.equal(events.length, 6, actions(events).join(', '));
    const imageRefs = [child.config, ...child.layers].map((b, i) => ({
      mediaType: i === 0 ? MediaTypes.ociConfig : MediaTypes.ociLayer,
      size: b.data.length,
      digest: b.digest,
    }));
    const [pushImage, pushIndex, pullImage] = [events[3]!, events[4]!, events[5]!];
    assert.deepEqual(pushImage.target, { ...manifestTarget(h.registry, 'refs/app', child, 'v1'), references: imageRefs });
    assertGoldenShape(pushImage, 'push-manifest');
    assert.deepEqual(pushIndex.target, {
      ...manifestTarget(h.registry, 'refs/app', index, 'all'),
      references: [{ mediaType: child.mediaType, size: child.manifest.length, digest: child.digest }],
    });
    assert.equal(pullImage.action, 'pull');
    assert.deepEqual(pullImage.target, { ...manifestTarget(h.registry, 'refs/app', child, 'v1'), references: imageRefs });
    assertGoldenShape(pullImage, 'pull-manifest');
  });
});
