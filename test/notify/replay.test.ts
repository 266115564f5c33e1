import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, it } from 'node:test';
import type { Event } from '../../src/notify/event.ts';
import { randomBlob } from '../helpers/oci.ts';
import { eventsOf } from '../helpers/receiver.ts';
import { adminJson, drained, eventually, useWithReceiver, type Harness } from './support.ts';

interface Listed {
  since: string;
  until: string;
  events: Event[];
}

async function push(h: Harness, repo: string): Promise<string> {
  const blob = randomBlob(64);
  assert.equal((await h.client.pushBlob(repo, blob.data, blob.digest)).status, 201);
  return blob.digest;
}

/** An instant between two operations: the clock moves on before and after it. */
async function mark(): Promise<string> {
  await sleep(5);
  const at = new Date().toISOString();
  await sleep(5);
  return at;
}

/**
 * A consumer that was wrong for an hour is made whole: `GET /notifications/events` lists the
 * retained events of a range (each once, oldest first; by repository and action too), and
 * `POST /notifications/endpoints/<name>/replay` queues them again for one endpoint, with the
 * same ids, in their order.
 */
describe('replay and query of retained events', { timeout: 60_000 }, () => {
  const h = useWithReceiver();

  it('lists and replays a range, by repository and action, with the same ids in order', async () => {
    const t0 = await mark();
    const a1 = await push(h, 'replay/a');
    const b1 = await push(h, 'replay/b');
    const t1 = await mark();
    const a2 = await push(h, 'replay/a');
    await drained(h.registry);
    const t2 = await mark();

    const all = await adminJson<Listed>(h.registry, `/notifications/events?since=${t0}`);
    assert.deepEqual(all.events.map((e) => e.target.digest), [a1, b1, a2], 'each once, oldest first');
    assert.equal(all.since, t0);
    assert.ok(all.until >= t2, 'until defaults to now');
    const ofA = await adminJson<Listed>(h.registry, `/notifications/events?since=${t0}&until=${t2}&repository=replay/a`);
    assert.deepEqual(ofA.events.map((e) => e.target.digest), [a1, a2]);
    const early = await adminJson<Listed>(h.registry, `/notifications/events?since=${t0}&until=${t1}`);
    assert.deepEqual(early.events.map((e) => e.target.digest), [a1, b1], 'until is exclusive of what came after');
    const pulls = await adminJson<Listed>(h.registry, `/notifications/events?since=${t0}&action=pull`);
    assert.deepEqual(pulls.events, []);
    const limited = await adminJson<Listed>(h.registry, `/notifications/events?since=${t0}&limit=2`);
    assert.equal(limited.events.length, 2);

    const originals = new Map(h.receiver.requests.flatMap(eventsOf).map((e) => [e.target.digest, e.id]));
    h.receiver.clear();
    const replayed = await adminJson<{ queued: number }>(
      h.registry,
      '/notifications/endpoints/hook/replay',
      { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ since: t0, until: t2, repository: 'replay/a' }) },
      202,
    );
    assert.equal(replayed.queued, 2);
    await eventually(() => h.receiver.requests.length >= 2, 'the replayed events arrive');
    await drained(h.registry);
    const again = h.receiver.requests.flatMap(eventsOf);
    assert.deepEqual(again.map((e) => e.target.digest), [a1, a2], 'in their order, only the range asked for');
    assert.deepEqual(again.map((e) => e.id), [originals.get(a1), originals.get(a2)], 'with the same ids');
  });

  it('refuses a malformed range with a detail, and an unknown endpoint with 404, queuing nothing', async () => {
    const bad = await adminJson<{ errors: { code: string; message: string; detail: unknown }[] }>(
      h.registry,
      '/notifications/events?since=yesterday',
      {},
      400,
    );
    assert.match(bad.errors[0]!.message, /since/);
    assert.ok(bad.errors[0]!.detail, 'with a detail');
    const inverted = await adminJson<{ errors: { message: string }[] }>(
      h.registry,
      '/notifications/endpoints/hook/replay',
      { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ since: '2026-01-02T00:00:00Z', until: '2026-01-01T00:00:00Z' }) },
      400,
    );
    assert.match(inverted.errors[0]!.message, /until/);
    const unknownKey = await adminJson<{ errors: { message: string }[] }>(
      h.registry,
      '/notifications/endpoints/hook/replay',
      { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ since: '2026-01-01T00:00:00Z', tag: 'x' }) },
      400,
    );
    assert.match(unknownKey.errors[0]!.message, /tag|unrecognized/i);
    await adminJson(
      h.registry,
      '/notifications/endpoints/nobody/replay',
      { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ since: '2026-01-01T00:00:00Z' }) },
      404,
    );
    h.receiver.clear();
    await sleep(200);
    assert.equal(h.receiver.requests.length, 0, 'nothing was queued');
  });

  it('does not queue twice an event still pending for the endpoint', async () => {
    h.receiver.behaviour = () => ({ status: 503, body: 'down' });
    const t0 = await mark();
    const digest = await push(h, 'replay/pending');
    const res = await adminJson<{ queued: number }>(
      h.registry,
      '/notifications/endpoints/hook/replay',
      { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ since: t0 }) },
      202,
    );
    assert.equal(res.queued, 0, 'the pending event is on its way already');
    h.receiver.clear();
    h.receiver.behaviour = () => ({ status: 200, body: 'ok' });
    await drained(h.registry, 'hook', 10_000);
    const got = h.receiver.requests.flatMap(eventsOf).filter((e) => e.target.digest === digest);
    assert.equal(got.length, 1, 'delivered once');
  });
});
