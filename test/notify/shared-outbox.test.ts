import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import type { Event } from '../../src/notify/event.ts';
import { verify } from '../../src/notify/delivery/signing.ts';
import { Failpoints } from '../../src/storage/failpoints.ts';
import { freePort } from '../helpers/child-registry.ts';
import { ociImage, randomBlob } from '../helpers/oci.ts';
import { startPostgres, type TestPostgres } from '../helpers/postgres.ts';
import { eventsOf, ok, WebhookReceiver } from '../helpers/receiver.ts';
import { Replicas } from './replicas.ts';
import { adminJson, drained, endpointState, eventually, NotifyClient, type EndpointState } from './support.ts';

/**
 * Replicas on one data root and one PostgreSQL outbox (Debian's PostgreSQL, started here): the
 * outbox is the database's, not any process's. A replica killed with kill -9 and never started
 * again loses nothing: another delivers what it acknowledged, in order, and settles the change
 * it was in the middle of. With both up, each event is delivered once.
 */
describe('replicas sharing a PostgreSQL outbox', { timeout: 180_000 }, () => {
  let db: TestPostgres;
  let work: string;

  const replicas = new Replicas(() => work);
  const replica = (name: string, url: string, hookUrl: string, env: NodeJS.ProcessEnv = {}, endpoint: Record<string, unknown> = {}) =>
    replicas.start(name, { outboxUrl: url, hookUrl, env, endpoint });

  before(async () => {
    work = await mkdtemp(path.join(tmpdir(), 'dockyard-shared-outbox-'));
    db = await startPostgres();
  });
  after(async () => {
    await replicas.killAll();
    await db?.stop();
    if (work) await rm(work, { recursive: true, force: true });
  });

  it('B delivers, in order, every event A acknowledged before A was killed for good', async (t) => {
    const url = await db.createDatabase('killed');
    const hookPort = await freePort(); // nobody listens there yet: the receiver is down
    const hookUrl = `http://127.0.0.1:${hookPort}/hook`;
    const a = await replica('a1', url, hookUrl);
    await eventually(async () => (await endpointState(a, 'hook')).delivering, 'A, started first, delivers the endpoint', 10_000);
    const b = await replica('b1', url, hookUrl);
    assert.equal((await endpointState(b, 'hook')).delivering, false, 'B waits: one replica delivers an endpoint');
    const client = new NotifyClient(a.url);
    const pushed: string[] = [];
    for (let i = 0; i < 4; i++) {
      const image = await client.pushImage(`killed/app${i}`, 'v1', ociImage({ layers: 1 }));
      pushed.push(image.digest);
    }
    const seenByB = await endpointState(b, 'hook');
    assert.equal(seenByB.pending, 4 * 3, `B sees A's 12 queued events (layer, config, manifest per image): ${JSON.stringify(seenByB)}`);
    await a.kill();
    const killedAt = Date.now();
    await eventually(async () => (await endpointState(b, 'hook')).delivering, 'B takes the endpoint over', 10_000);
    t.diagnostic(`B delivers the endpoint ${Date.now() - killedAt} ms after A was killed`);

    const receiver = await WebhookReceiver.start(ok, hookPort);
    t.after(() => receiver.close());
    await drained(b, 'hook', 30_000);
    const events = receiver.requests.flatMap(eventsOf);
    const ids = events.map((e) => e.id);
    assert.equal(new Set(ids).size, ids.length, `no event twice: ${ids.join(', ')}`);
    assert.equal(events.length, 12, 'every event A acknowledged');
    const manifests = events.filter((e) => e.action === 'push' && e.target.tag === 'v1').map((e) => e.target.digest);
    assert.deepEqual(manifests, pushed, 'in the order A committed them');
    const times = events.map((e) => Date.parse(e.timestamp));
    assert.deepEqual([...times].sort((x, y) => x - y), times, 'in timestamp order');
    assert.ok(events.every((e) => e.request.host === new URL(a.url).host), 'all of them A’s');
    t.diagnostic(`B delivered ${events.length} events of the killed A`);
    await b.kill();
  });

  it('B settles the change A was making when it died, and delivers its event', async () => {
    const url = await db.createDatabase('orphan');
    const receiver = await WebhookReceiver.start(ok);
    after(() => receiver.close());
    // A dies with the blob stored and its intent recorded, before the push's events are committed.
    const blob = randomBlob(300);
    const a = await replica('a2', url, receiver.url(), { DOCKYARD_FAILPOINTS: Failpoints.uploadClosed });
    const b = await replica('b2', url, receiver.url());
    const res = await new NotifyClient(a.url).pushBlob('orphan/app', blob.data, blob.digest).catch((err: unknown) => err);
    assert.ok(res instanceof Error, 'A died in the middle of the push');
    await eventually(
      () => receiver.requests.flatMap(eventsOf).some((e) => e.action === 'push' && e.target.digest === blob.digest),
      'B settled A’s interrupted push and delivered its event',
      20_000,
    );
    const events = receiver.requests.flatMap(eventsOf).filter((e) => e.target.digest === blob.digest);
    assert.equal(events.length, 1, 'once');
    assert.equal(events[0]!.request.host, new URL(a.url).host, 'reported as A’s request');
    const check = new pg.Client(url);
    await check.connect();
    try {
      const { rows } = await check.query('SELECT count(*)::int AS n FROM dockyard.intents');
      assert.equal(rows[0].n, 0, 'no intent left');
    } finally {
      await check.end();
    }
    await b.kill();
  });

  it('with both up, each event is delivered once and both report the same endpoint state', async (t) => {
    const url = await db.createDatabase('both');
    const receiver = await WebhookReceiver.start(ok);
    t.after(() => receiver.close());
    // Both sign with one Ed25519 key, generated by whichever started first and kept in the database.
    const [a, b] = await Promise.all([
      replica('a3', url, receiver.url(), {}, { signing: { ed25519: true } }),
      replica('b3', url, receiver.url(), {}, { signing: { ed25519: true } }),
    ]);
    const [ca, cb] = [new NotifyClient(a.url), new NotifyClient(b.url)];
    const since = new Date().toISOString();
    for (let i = 0; i < 3; i++) {
      await ca.pushImage(`both/a${i}`, 'v1', ociImage({ layers: 1 }));
      await cb.pushImage(`both/b${i}`, 'v1', ociImage({ layers: 1 }));
    }
    await Promise.all([drained(a, 'hook', 20_000), drained(b, 'hook', 20_000)]);
    const events: Event[] = receiver.requests.flatMap(eventsOf);
    const ids = events.map((e) => e.id);
    assert.equal(events.length, 18);
    assert.equal(new Set(ids).size, 18, 'no event delivered twice');
    const [sa, sb] = await Promise.all([endpointState(a, 'hook'), endpointState(b, 'hook')]);
    const pick = (e: EndpointState) => ({ pending: e.pending, delivered: e.delivered, deadLetters: e.deadLetters });
    assert.deepEqual(pick(sa), { pending: 0, delivered: 18, deadLetters: 0 });
    assert.deepEqual(pick(sb), pick(sa), 'the same outbox, seen from either');
    assert.match(sa.publickey ?? '', /^whpk_/);
    assert.equal(sb.publickey, sa.publickey, 'one key pair for both replicas');
    for (const r of receiver.requests) verify(sa.publickey!, r.headers as Record<string, string>, r.raw);
    const [da, dbs] = await Promise.all([
      adminJson<{ deliveries: unknown[] }>(a, '/notifications/endpoints/hook/deliveries?limit=100'),
      adminJson<{ deliveries: unknown[] }>(b, '/notifications/endpoints/hook/deliveries?limit=100'),
    ]);
    assert.equal(da.deliveries.length, 18, 'the delivery log has every attempt');
    assert.deepEqual(dbs.deliveries, da.deliveries, 'and either replica shows the same log');

    // Replay through B what A and B queued: the same ids again, once each, in their order.
    const listed = await adminJson<{ events: Event[] }>(a, `/notifications/events?since=${since}`);
    assert.deepEqual(listed.events.map((e) => e.id), ids, 'A lists every retained event, in delivery order');
    receiver.clear();
    const replay = await adminJson<{ queued: number }>(
      b,
      '/notifications/endpoints/hook/replay',
      { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ since }) },
      202,
    );
    assert.equal(replay.queued, 18);
    await eventually(() => receiver.requests.length >= 18, 'the replay is delivered', 20_000);
    await Promise.all([drained(a, 'hook', 20_000), drained(b, 'hook', 20_000)]);
    assert.deepEqual(receiver.requests.flatMap(eventsOf).map((e) => e.id), ids, 'the same events, in the same order, once');
  });
});
