import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, describe, it } from 'node:test';
import type { Event } from '../../src/notify/event.ts';
import { randomBlob } from '../helpers/oci.ts';
import { eventsOf, failFirst, ok, WebhookReceiver } from '../helpers/receiver.ts';
import { startTestRegistry } from '../helpers/registry.ts';
import { adminJson, assertEnvelopes, endpoint, endpointState, eventually, NotifyClient, useWithReceiver, type Harness } from './support.ts';

interface DeadLetter {
  event: Event;
  attempts: number;
  status: number | null;
  error: string | null;
  enqueuedAt: string;
}

async function deadLetters(h: Pick<Harness, 'registry'> | { registry: { url: string } }, name = 'hook'): Promise<DeadLetter[]> {
  const body = await adminJson<{ endpoint: string; deadLetters: DeadLetter[] }>(h.registry, `/notifications/endpoints/${name}/dead-letters`);
  assert.equal(body.endpoint, name);
  return body.deadLetters;
}

async function push(h: Harness, repo: string): Promise<string> {
  const blob = randomBlob(77);
  assert.equal((await h.client.pushBlob(repo, blob.data, blob.digest)).status, 201);
  return blob.digest;
}

describe('dead letters and redelivery (maxattempts)', { timeout: 30_000 }, () => {
  const h = useWithReceiver({ endpoint: { maxattempts: 3 }, behaviour: () => ({ status: 500, body: 'receiver is down' }) });

  it('dead-letters an event after maxattempts, lists it, and counts it in the endpoint state', async () => {
    const digest = await push(h, 'dead/app');
    await eventually(async () => (await deadLetters(h)).length === 1, 'the event is dead-lettered');
    const [letter] = await deadLetters(h);
    assert.equal(letter!.event.target.digest, digest);
    assert.equal(letter!.attempts, 3);
    assert.equal(letter!.status, 500);
    assert.match(letter!.error ?? '', /maxattempts|3 attempts/);
    assert.ok(!Number.isNaN(Date.parse(letter!.enqueuedAt)));
    assert.equal(h.receiver.requests.length, 3, 'exactly maxattempts attempts');
    assert.ok(h.receiver.requests.every((r) => eventsOf(r)[0]?.id === letter!.event.id));
    const state = await endpointState(h.registry);
    assert.equal(state.deadLetters, 1);
    assert.equal(state.pending, 0);
    assert.equal(state.lastStatus, 500);
    assert.ok(state.failingSince !== null, 'failingSince is set while attempts fail');
  });

  it('goes on to the next events after a dead letter, and redelivers the dead one with the same id once asked', async () => {
    const [letter] = await deadLetters(h);
    h.receiver.behaviour = ok;
    h.receiver.clear();
    const next = await push(h, 'dead/app');
    const [delivered] = await h.receiver.waitFor(1);
    assert.equal(delivered!.target.digest, next);
    const res = await adminJson<{ queued: boolean; event: string }>(
      h.registry,
      `/notifications/endpoints/hook/deliveries/${letter!.event.id}/redeliver`,
      { method: 'POST' },
      202,
    );
    assert.equal(res.event, letter!.event.id);
    const events = await h.receiver.waitFor(2);
    assert.equal(events[1]!.id, letter!.event.id, 'the redelivered event keeps its id');
    assert.deepEqual(events[1], letter!.event, 'and its whole content');
    assertEnvelopes(h.receiver);
    await eventually(async () => (await endpointState(h.registry)).deadLetters === 0, 'the redelivered event no longer counts as dead');
    assert.deepEqual(await deadLetters(h), []);
    const state = await endpointState(h.registry);
    assert.equal(state.failingSince, null, 'healthy again');
    assert.equal(state.lastStatus, 200);
  });

  it('answers 404 to a redelivery of an unknown event or endpoint', async () => {
    await adminJson(h.registry, '/notifications/endpoints/hook/deliveries/no-such-event/redeliver', { method: 'POST' }, 404);
    await adminJson(h.registry, '/notifications/endpoints/nope/dead-letters', {}, 404);
  });
});

describe('dead letters by age (maxage)', { timeout: 30_000 }, () => {
  const h = useWithReceiver({ endpoint: { maxage: '300ms' }, behaviour: () => ({ status: 502 }) });

  it('dead-letters an event once it is older than maxage', async () => {
    const digest = await push(h, 'old/app');
    await eventually(async () => (await deadLetters(h)).length === 1, 'the event is dead-lettered by age');
    const [letter] = await deadLetters(h);
    assert.equal(letter!.event.target.digest, digest);
    assert.match(letter!.error ?? '', /maxage/);
  });
});

describe('410 Gone', { timeout: 30_000 }, () => {
  const h = useWithReceiver({ behaviour: failFirst(1, { status: 410, body: 'gone' }) });

  it('disables the endpoint until it is enabled again, then delivers the queued events in order', async () => {
    const first = await push(h, 'gone/app');
    await eventually(async () => (await endpointState(h.registry)).disabled, 'the endpoint is disabled');
    const state = await endpointState(h.registry);
    assert.match(state.disabledReason ?? '', /410/);
    const later = [await push(h, 'gone/app'), await push(h, 'gone/app')];
    await sleep(300);
    assert.equal(h.receiver.requests.length, 1, 'nothing is sent while disabled');
    assert.equal((await endpointState(h.registry)).pending, 3);

    const res = await fetch(new URL('/notifications/endpoints/hook/enable', h.registry.url), { method: 'POST' });
    assert.equal(res.status, 204);
    const events = await h.receiver.waitFor(3);
    assert.deepEqual(events.map((e) => e.target.digest), [first, ...later]);
    assert.equal(events[0]!.id, eventsOf(h.receiver.requests[0]!)[0]!.id, 'the event refused with 410 keeps its id');
    await eventually(async () => (await endpointState(h.registry)).pending === 0, 'the queue drains');
    assert.equal((await endpointState(h.registry)).disabled, false);
  });
});

describe('endpoint state across a restart', { timeout: 30_000 }, () => {
  let root: string;
  const receivers: WebhookReceiver[] = [];
  before(async () => {
    root = await mkdtemp(path.join(tmpdir(), 'dockyard-notify-restart-'));
  });
  after(async () => {
    for (const r of receivers) await r.close();
    await rm(root, { recursive: true, force: true });
  });

  it('keeps a 410-disabled endpoint disabled, and its dead letters listed, after a restart on the same storage', async () => {
    const gone = await WebhookReceiver.start(() => ({ status: 410 }));
    const dead = await WebhookReceiver.start(() => ({ status: 500 }));
    receivers.push(gone, dead);
    const config = {
      storage: { filesystem: { rootdirectory: root } },
      notifications: { endpoints: [endpoint(gone, { name: 'gone' }), endpoint(dead, { name: 'dead', maxattempts: 1 })] },
    };
    const first = await startTestRegistry(config);
    const blob = randomBlob(40);
    assert.equal((await new NotifyClient(first.url).pushBlob('restart/app', blob.data, blob.digest)).status, 201);
    await eventually(async () => (await endpointState(first, 'gone')).disabled && (await endpointState(first, 'dead')).deadLetters === 1, 'disabled and dead-lettered');
    await first.stop();

    gone.behaviour = ok;
    dead.behaviour = ok;
    const second = await startTestRegistry(config);
    try {
      await sleep(200);
      const state = await endpointState(second, 'gone');
      assert.equal(state.disabled, true, 'still disabled after the restart');
      assert.equal(state.pending, 1);
      assert.equal(gone.requests.length, 1, 'nothing sent to a disabled endpoint after the restart');
      assert.equal((await endpointState(second, 'dead')).deadLetters, 1);
      assert.equal((await deadLetters({ registry: second }, 'dead'))[0]!.event.target.digest, blob.digest);
      assert.equal((await fetch(new URL('/notifications/endpoints/gone/enable', second.url), { method: 'POST' })).status, 204);
      const [event] = await gone.waitFor(1);
      assert.equal(event!.target.digest, blob.digest);
    } finally {
      await second.stop();
    }
  });
});
