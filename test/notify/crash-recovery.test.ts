import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { after, before, describe, it, type TestContext } from 'node:test';
import { ChildRegistry, freePort, writeConfig } from '../helpers/child-registry.ts';
import { ociImage, randomBlob } from '../helpers/oci.ts';
import { WebhookReceiver, eventsOf, ok } from '../helpers/receiver.ts';
import { adminJson, assertEnvelopes, drained, endpoint, endpointState, eventually, NotifyClient } from './support.ts';

/**
 * The registry runs as its own process and is killed with SIGKILL while events are undelivered;
 * restarted on the same storage and config, it delivers every one of them, with unchanged ids.
 */
// The scenarios are independent (own ports, storage, receivers) and mostly wait for processes to
// start, so they run concurrently.
describe('events survive kill -9 of the registry', { timeout: 120_000, concurrency: true }, () => {
  let work: string;

  before(async () => {
    work = await mkdtemp(path.join(tmpdir(), 'dockyard-notify-crash-'));
  });
  after(async () => {
    if (work) await rm(work, { recursive: true, force: true });
  });

  async function receiver(t: TestContext, ...args: Parameters<typeof WebhookReceiver.start>): Promise<WebhookReceiver> {
    const r = await WebhookReceiver.start(...args);
    t.after(() => r.close());
    return r;
  }

  /** A config file for a registry on a fresh port and storage dir. */
  async function config(name: string, endpoints: Record<string, unknown>[]): Promise<{ file: string; port: number }> {
    const port = await freePort();
    const dir = path.join(work, name);
    const file = await writeConfig(work, {
      version: 0.1,
      log: { level: 'error' },
      http: { addr: `127.0.0.1:${port}` },
      storage: { filesystem: { rootdirectory: dir } },
      notifications: { endpoints },
    }, `${name}.yml`);
    return { file, port };
  }

  async function start(t: TestContext, file: string, port: number): Promise<ChildRegistry> {
    const child = await ChildRegistry.start(file, port);
    t.after(() => child.kill());
    return child;
  }

  it('delivers events queued behind a receiver answering 500 after a restart, in order, with the ids they had', async (t) => {
    const failing = await receiver(t, () => ({ status: 500 }));
    const mirror = await receiver(t, ok);
    const { file, port } = await config('five-hundred', [endpoint(failing), endpoint(mirror, { name: 'mirror' })]);
    const first = await start(t, file, port);
    const client = new NotifyClient(first.url);
    await client.pushImage('crash/app', 'v1', ociImage({ layers: 1 }));
    await client.pushImage('crash/app', 'v2', ociImage({ layers: 2 }));
    const del = await client.fetch('/v2/crash/app/manifests/v1', { method: 'DELETE' });
    assert.equal(del.status, 202);
    // A healthy endpoint gets the same events (same ids) right away: the reference.
    const expected = await mirror.waitFor(8);
    await drained(first, 'mirror');
    await failing.waitForRequests(3);
    assert.equal((await endpointState(first)).pending, 8, 'all eight wait for the failing endpoint');

    await first.kill();
    const beforeCrash = failing.requests.slice();
    failing.clear();
    mirror.clear();
    failing.behaviour = ok;

    const second = await start(t, file, port);
    const delivered = await failing.waitFor(8, 15_000);
    await drained(second);
    assertEnvelopes(failing);
    assert.deepEqual(delivered.map((e) => e.id), expected.map((e) => e.id), 'every event, in order, with its id');
    assert.deepEqual(delivered, expected, 'and unchanged content');
    assert.equal(failing.accepted().length, 8, 'each delivered once');
    assert.ok(beforeCrash.every((r) => eventsOf(r)[0]?.id === expected[0]!.id), 'the attempts before the crash carried the first event');

    await drained(second, 'mirror');
    assert.equal(mirror.requests.length, 0, 'the events the mirror had acknowledged are not sent again');
    const ping = await adminJson<{ status: number }>(second, '/notifications/endpoints/hook/ping', { method: 'POST' });
    assert.equal(ping.status, 200);
    const [pingEvent] = eventsOf(failing.requests.at(-1)!);
    assert.notEqual(pingEvent!.source.instanceID, expected[0]!.source.instanceID, 'the restarted process is a new instance');
    await second.stop();
  });

  it('delivers the events of pushes answered just before kill -9, while the receiver was unreachable', async (t) => {
    const receiverPort = await freePort();
    const { file, port } = await config('refused', [
      { name: 'hook', url: `http://127.0.0.1:${receiverPort}/hook`, timeout: '500ms', backoff: '20ms', threshold: 2, maxbackoff: '100ms' },
    ]);
    const first = await start(t, file, port);
    const client = new NotifyClient(first.url);
    const digests: string[] = [];
    for (let i = 0; i < 5; i++) {
      const blob = randomBlob(100 + i);
      assert.equal((await client.pushBlob('refused/app', blob.data, blob.digest)).status, 201);
      digests.push(blob.digest);
    }
    await first.kill(); // at once: the only copy of these events is what was on disk before each 201

    const rx = await receiver(t, ok, receiverPort);
    const second = await start(t, file, port);
    const events = await rx.waitFor(5, 15_000);
    await drained(second);
    assert.deepEqual(events.map((e) => e.target.digest), digests);
    assert.equal(new Set(events.map((e) => e.id)).size, 5);
    assertEnvelopes(rx);
    await second.stop();
  });

  it('keeps counting attempts across a restart, so maxattempts still holds', async (t) => {
    const failing = await receiver(t, () => ({ status: 500 }));
    const { file, port } = await config('attempts', [
      endpoint(failing, { maxattempts: 3, threshold: 1, backoff: '2s', maxbackoff: '1s' }),
    ]);
    const first = await start(t, file, port);
    const blob = randomBlob(64);
    assert.equal((await new NotifyClient(first.url).pushBlob('attempts/app', blob.data, blob.digest)).status, 201);
    await failing.waitForRequests(1);
    // Wait until the failed attempt is on record (the retry is 0.5-1 s away), then kill.
    await eventually(async () => {
      const { deliveries } = await adminJson<{ deliveries: unknown[] }>(first, '/notifications/endpoints/hook/deliveries');
      return deliveries.length === 1;
    }, 'the first attempt is recorded');
    await first.kill();
    assert.equal(failing.requests.length, 1);

    const second = await start(t, file, port);
    await eventually(async () => (await endpointState(second)).deadLetters === 1, 'the event is dead-lettered', 15_000);
    const { deadLetters } = await adminJson<{ deadLetters: { attempts: number }[] }>(second, '/notifications/endpoints/hook/dead-letters');
    assert.equal(deadLetters[0]!.attempts, 3);
    assert.equal(failing.requests.length, 3, 'one attempt before the crash and two after it: three in all');
    await second.stop();
  });
});
