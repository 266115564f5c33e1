import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { MediaTypes, ociImage, randomBlob, sha256, type ImageFixture } from '../helpers/oci.ts';
import {
  actions, assertEnvelopes, assertGoldenShape, assertRequest, blobTarget, drained, manifestTarget, OCTET,
  received, resetBeforeEach, useWithReceiver,
} from './support.ts';

/** Pulls, existence checks and deletes, each driven over HTTP, and the exact events a real receiver gets. */
describe('events for pulls and deletes', { timeout: 60_000 }, () => {
  const h = useWithReceiver();
  resetBeforeEach(h);

  /** Pushes an image and forgets its push events. */
  async function pushed(repo: string, tag: string): Promise<ImageFixture> {
    const image = await h.client.pushImage(repo, tag, ociImage({ layers: 1 }));
    await drained(h.registry);
    h.receiver.clear();
    return image;
  }

  async function get(path: string, init: RequestInit = {}): Promise<Response> {
    const res = await h.client.fetch(path, init);
    await res.arrayBuffer();
    return res;
  }

  it('emits one pull event for a blob GET, shaped like Distribution’s', async () => {
    const image = await pushed('pull/blob', 'v1');
    const layer = image.layers[0]!;
    assert.equal((await get(`/v2/pull/blob/blobs/${layer.digest}`)).status, 200);
    const events = await received(h);
    assert.equal(events.length, 1, actions(events).join(', '));
    assert.equal(events[0]!.action, 'pull');
    assert.deepEqual(events[0]!.target, blobTarget(h.registry, 'pull/blob', layer));
    assertRequest(events[0]!, h.registry, 'GET');
    assertGoldenShape(events[0]!, 'pull-blob');
  });

  it('emits exactly one pull event for a Range GET, and none for an unsatisfiable range', async () => {
    const image = await pushed('pull/range', 'v1');
    const layer = image.layers[0]!;
    const partial = await get(`/v2/pull/range/blobs/${layer.digest}`, { headers: { range: 'bytes=10-99' } });
    assert.equal(partial.status, 206);
    const events = await received(h);
    assert.equal(events.length, 1, actions(events).join(', '));
    assert.deepEqual(
      events[0]!.target,
      { ...blobTarget(h.registry, 'pull/range', layer), range: `bytes 10-99/${layer.data.length}` },
      'the target is the whole blob, and the range says which part was sent',
    );
    h.receiver.clear();
    const beyond = await get(`/v2/pull/range/blobs/${layer.digest}`, { headers: { range: `bytes=${layer.data.length + 10}-` } });
    assert.equal(beyond.status, 416);
    assert.deepEqual(actions(await received(h)), []);
  });

  it('emits one pull naming the tag for a manifest GET by tag, and one without a tag for a GET by digest', async () => {
    const image = await pushed('pull/manifest', 'v1');
    assert.equal((await get('/v2/pull/manifest/manifests/v1')).status, 200);
    assert.equal((await get(`/v2/pull/manifest/manifests/${image.digest}`)).status, 200);
    const events = await received(h);
    assert.equal(events.length, 2, actions(events).join(', '));
    assert.deepEqual(events[0]!.target, manifestTarget(h.registry, 'pull/manifest', image, 'v1'));
    assert.deepEqual(events[1]!.target, manifestTarget(h.registry, 'pull/manifest', image));
    assertRequest(events[0]!, h.registry, 'GET');
    assertGoldenShape(events[0]!, 'pull-manifest', { without: ['references'] });
  });

  it('emits nothing for HEAD on a manifest or a blob by default', async () => {
    const image = await pushed('pull/head', 'v1');
    assert.equal((await get('/v2/pull/head/manifests/v1', { method: 'HEAD' })).status, 200);
    assert.equal((await get(`/v2/pull/head/manifests/${image.digest}`, { method: 'HEAD' })).status, 200);
    assert.equal((await get(`/v2/pull/head/blobs/${image.config.digest}`, { method: 'HEAD' })).status, 200);
    assert.deepEqual(actions(await received(h)), []);
  });

  it('emits nothing for GETs of unknown content, nor for a manifest GET refused by its Accept header', async () => {
    const image = await pushed('pull/none', 'v1');
    const unknown = sha256(Buffer.from('never pushed'));
    assert.equal((await get(`/v2/pull/none/blobs/${unknown}`)).status, 404);
    assert.equal((await get(`/v2/pull/none/manifests/${unknown}`)).status, 404);
    assert.equal((await get('/v2/pull/none/manifests/nope')).status, 404);
    assert.equal((await get(`/v2/pull/other/blobs/${image.config.digest}`)).status, 404, 'blob of another repository');
    const refused = await get('/v2/pull/none/manifests/v1', { headers: { accept: MediaTypes.dockerManifest } });
    assert.equal(refused.status, 404, 'manifest type not accepted');
    assert.deepEqual(actions(await received(h)), []);
  });

  it('emits one manifest delete and one tag delete per tag removed when a manifest is deleted by digest', async () => {
    const image = await pushed('del/manifest', 'c');
    for (const tag of ['a', 'b']) {
      assert.equal((await h.client.pushManifest('del/manifest', tag, image.manifest, image.mediaType)).status, 201);
    }
    await drained(h.registry);
    h.receiver.clear();
    const res = await h.client.fetch(`/v2/del/manifest/manifests/${image.digest}`, { method: 'DELETE' });
    assert.equal(res.status, 202);
    const events = await received(h);
    assert.equal(events.length, 4, actions(events).join(', '));
    assert.ok(events.every((e) => e.action === 'delete'));
    assert.deepEqual(events[0]!.target, { mediaType: image.mediaType, digest: image.digest, repository: 'del/manifest' });
    assertGoldenShape(events[0]!, 'delete-manifest', { extra: ['mediaType'] });
    assert.deepEqual(events.slice(1).map((e) => e.target), ['a', 'b', 'c'].map((tag) => ({ repository: 'del/manifest', tag })));
    for (const e of events.slice(1)) assertGoldenShape(e, 'delete-tag');
    for (const e of events) assertRequest(e, h.registry, 'DELETE');
    assert.equal(new Set(events.map((e) => e.request.id)).size, 1, 'all four come from the one request');
    assert.equal(new Set(events.map((e) => e.id)).size, 4, 'each event has its own id');
  });

  it('emits one tag delete when a tag is deleted, and the manifest stays', async () => {
    const image = await pushed('del/tag', 'v1');
    const res = await h.client.fetch('/v2/del/tag/manifests/v1', { method: 'DELETE' });
    assert.equal(res.status, 202);
    const events = await received(h);
    assert.equal(events.length, 1, actions(events).join(', '));
    assert.deepEqual(events[0]!.target, { repository: 'del/tag', tag: 'v1' });
    assertRequest(events[0]!, h.registry, 'DELETE');
    assertGoldenShape(events[0]!, 'delete-tag');
    assert.equal((await get(`/v2/del/tag/manifests/${image.digest}`, { method: 'HEAD' })).status, 200);
  });

  it('emits one delete carrying the digest, repository and octet-stream media type when a blob is deleted', async () => {
    const blob = randomBlob(321);
    assert.equal((await h.client.pushBlob('del/blob', blob.data, blob.digest)).status, 201);
    await drained(h.registry);
    h.receiver.clear();
    const res = await h.client.fetch(`/v2/del/blob/blobs/${blob.digest}`, { method: 'DELETE' });
    assert.equal(res.status, 202);
    const events = await received(h);
    assert.equal(events.length, 1, actions(events).join(', '));
    assert.deepEqual(events[0]!.target, { mediaType: OCTET, digest: blob.digest, repository: 'del/blob' });
    assertRequest(events[0]!, h.registry, 'DELETE');
    assertGoldenShape(events[0]!, 'delete-blob', { extra: ['mediaType'] });
  });

  it('emits nothing for deletes of unknown manifests, tags and blobs', async () => {
    await pushed('del/none', 'v1');
    const unknown = sha256(Buffer.from('never pushed either'));
    for (const p of [`/v2/del/none/manifests/${unknown}`, '/v2/del/none/manifests/nope', `/v2/del/none/blobs/${unknown}`]) {
      const res = await h.client.fetch(p, { method: 'DELETE' });
      await res.arrayBuffer();
      assert.equal(res.status, 404, `DELETE ${p}`);
    }
    assert.deepEqual(actions(await received(h)), []);
  });
});

describe('events when deletion is disabled', { timeout: 30_000 }, () => {
  const h = useWithReceiver({ config: { storage: { delete: { enabled: false } } } });

  it('emits nothing for a refused manifest or blob delete', async () => {
    const image = await h.client.pushImage('nodel/app', 'v1', ociImage({ layers: 1 }));
    await drained(h.registry);
    h.receiver.clear();
    for (const p of [`/v2/nodel/app/manifests/${image.digest}`, '/v2/nodel/app/manifests/v1', `/v2/nodel/app/blobs/${image.config.digest}`]) {
      const res = await h.client.fetch(p, { method: 'DELETE' });
      await res.arrayBuffer();
      assert.ok(res.status >= 400, `DELETE ${p} is refused (${res.status})`);
    }
    await drained(h.registry);
    assert.deepEqual(actions(assertEnvelopes(h.receiver)), []);
  });
});
