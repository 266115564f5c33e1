import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Event } from '../../src/notify/event.ts';
import { eventsOf, type ReceivedRequest } from '../helpers/receiver.ts';
import { ociImage, randomBlob } from '../helpers/oci.ts';
import { actions, drained, eventually, useWithReceiver } from './support.ts';

/**
 * Distribution can deliver a manifest push before the tag is stored. Ours must not: the receiver
 * looks the content up on the registry *before* answering each delivery and records what it saw.
 */
describe('events are emitted only once their state is visible', { timeout: 60_000 }, () => {
  /** What the receiver saw for each event, looked up while the delivery was in flight. */
  const seen: { event: Event; path: string; status: number }[] = [];

  /** The request that shows the state an event describes. */
  function probe(e: Event): string | null {
    const t = e.target;
    if (e.action === 'push' || e.action === 'mount' || (e.action === 'delete' && t.digest !== undefined)) {
      const kind = t.mediaType === 'application/octet-stream' ? 'blobs' : 'manifests';
      return `/v2/${t.repository}/${kind}/${t.tag !== undefined && e.action === 'push' ? t.tag : t.digest}`;
    }
    if (e.action === 'delete' && t.tag !== undefined) return `/v2/${t.repository}/manifests/${t.tag}`;
    return null;
  }

  const h = useWithReceiver({
    // The receiver's own GETs must not feed it more events.
    endpoint: { ignore: { actions: ['pull'] } },
    behaviour: async (request: ReceivedRequest) => {
      for (const event of eventsOf(request)) {
        const path = probe(event);
        if (path === null) continue;
        const res = await fetch(new URL(path, h.registry.url));
        await res.arrayBuffer();
        seen.push({ event, path, status: res.status });
      }
      return { status: 204 };
    },
  });

  function statusOf(predicate: (e: Event) => boolean): number[] {
    return seen.filter((s) => predicate(s.event)).map((s) => s.status);
  }

  it('lets the receiver GET a pushed manifest by its tag, and each pushed blob, while it handles the push event', async () => {
    const image = await h.client.pushImage('vis/app', 'v1', ociImage({ layers: 2 }));
    await drained(h.registry);
    assert.equal(seen.length, 4, actions(seen.map((s) => s.event)).join(', '));
    assert.deepEqual(statusOf((e) => e.target.tag === 'v1' && e.action === 'push'), [200], 'GET of the tag when its push event arrives');
    assert.deepEqual(statusOf((e) => e.target.mediaType === 'application/octet-stream'), [200, 200, 200]);
    assert.equal(seen[3]!.event.target.digest, image.digest);
  });

  it('lets the receiver GET a mounted blob in the target repository while it handles the mount event', async () => {
    seen.length = 0;
    const blob = randomBlob(400);
    assert.equal((await h.client.pushBlob('vis/src', blob.data, blob.digest)).status, 201);
    const res = await h.client.fetch(`/v2/vis/dst/blobs/uploads/?mount=${blob.digest}&from=vis/src`, { method: 'POST' });
    assert.equal(res.status, 201);
    await drained(h.registry);
    assert.deepEqual(statusOf((e) => e.action === 'mount'), [200]);
  });

  it('finds the manifest and its tags already gone while it handles their delete events', async () => {
    seen.length = 0;
    const image = await h.client.pushImage('vis/del', 'a', ociImage({ layers: 1 }));
    assert.equal((await h.client.pushManifest('vis/del', 'b', image.manifest, image.mediaType)).status, 201);
    await drained(h.registry);
    seen.length = 0;
    const res = await h.client.fetch(`/v2/vis/del/manifests/${image.digest}`, { method: 'DELETE' });
    assert.equal(res.status, 202);
    await drained(h.registry);
    assert.deepEqual(seen.map((s) => [s.path, s.status]), [
      [`/v2/vis/del/manifests/${image.digest}`, 404],
      ['/v2/vis/del/manifests/a', 404],
      ['/v2/vis/del/manifests/b', 404],
    ]);
  });

  it('finds a deleted blob already gone while it handles the blob delete event', async () => {
    seen.length = 0;
    const blob = randomBlob(200);
    assert.equal((await h.client.pushBlob('vis/blob', blob.data, blob.digest)).status, 201);
    // The push event is handled (the receiver reads the blob back) before the delete starts.
    await eventually(() => seen.length === 1, 'the push event handled');
    const res = await h.client.fetch(`/v2/vis/blob/blobs/${blob.digest}`, { method: 'DELETE' });
    assert.equal(res.status, 202);
    await drained(h.registry);
    assert.deepEqual(seen.map((s) => [s.event.action, s.status]), [['push', 200], ['delete', 404]]);
  });
});
