import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, describe, it } from 'node:test';
import { ociImage } from '../helpers/oci.ts';
import { startPostgres, type TestPostgres } from '../helpers/postgres.ts';
import { eventsOf, ok, WebhookReceiver, type ReceivedRequest } from '../helpers/receiver.ts';
import { TcpProxy } from '../helpers/tcp-proxy.ts';
import { Replicas } from './replicas.ts';
import { drained, endpointState, eventually, NotifyClient } from './support.ts';

/** How long the server's keepalive takes to drop a vanished peer on a lease session (5 s idle + 3 probes 2 s apart). */
const SERVER_GIVES_UP_MS = 11_000;

/**
 * A network cut between the replica delivering an endpoint and PostgreSQL (a relay that stops
 * passing anything, then closes the server's side as its keepalive would): the replica notices
 * by its own session check and stops delivering, even in the middle of retrying an event; once
 * the server frees its lease, the other replica takes the endpoint over and goes on from the
 * oldest event not acknowledged. Nothing is lost, no event is acknowledged twice, and nothing is
 * sent by the cut-off replica after it noticed.
 */
describe('a network cut between the delivering replica and the shared outbox', { timeout: 120_000 }, () => {
  let db: TestPostgres;
  let proxy: TcpProxy;
  let work: string;

  const replicas = new Replicas(() => work);
  const replica = (name: string, url: string, hookUrl: string) =>
    replicas.start(name, {
      outboxUrl: url,
      hookUrl,
      endpoint: { headers: { 'X-Replica': name }, backoff: '100ms', threshold: 1, maxbackoff: '300ms' },
    });

  before(async () => {
    work = await mkdtemp(path.join(tmpdir(), 'dockyard-outbox-cut-'));
    db = await startPostgres('cut');
    proxy = await TcpProxy.start(db.port);
  });
  after(async () => {
    await replicas.killAll();
    await proxy?.close();
    await db?.stop();
    if (work) await rm(work, { recursive: true, force: true });
  });

  it('B takes the endpoint over from A, cut off mid-retry, and delivers everything once', async (t) => {
    const receiver = await WebhookReceiver.start(ok);
    t.after(() => receiver.close());
    const a = await replica('a', db.url.replace(`:${db.port}/`, `:${proxy.port}/`), receiver.url());
    await eventually(async () => (await endpointState(a, 'hook')).delivering, 'A delivers the endpoint', 10_000);
    const b = await replica('b', db.url, receiver.url());
    const client = new NotifyClient(b.url);
    for (let i = 0; i < 2; i++) await client.pushImage(`cut/before${i}`, 'v1', ociImage({ layers: 1 }));
    await drained(b, 'hook', 10_000);
    const from = (r: ReceivedRequest) => String(r.headers['x-replica']);
    assert.ok(receiver.requests.every((r) => from(r) === 'a'), 'A delivered them, B did not');

    // The consumer goes down: A retries the next events, and meanwhile its network is cut.
    receiver.behaviour = () => ({ status: 503, body: 'down' });
    for (let i = 0; i < 2; i++) await client.pushImage(`cut/after${i}`, 'v1', ociImage({ layers: 1 }));
    await eventually(() => receiver.requests.some((r) => r.outcome === 503 && from(r) === 'a'), 'A is retrying', 10_000);
    proxy.cut();
    const cutAt = Date.now();
    await sleep(SERVER_GIVES_UP_MS);
    const lastFromA = Math.max(...receiver.requests.filter((r) => from(r) === 'a').map((r) => r.at));
    proxy.serverGivesUp();
    await eventually(async () => (await endpointState(b, 'hook')).delivering, 'B takes the endpoint over', 10_000);
    const tookOverAt = Date.now();
    receiver.behaviour = ok;
    await drained(b, 'hook', 20_000);
    t.diagnostic(`A's last attempt ${lastFromA - cutAt} ms after the cut; B delivering ${tookOverAt - cutAt} ms after it`);

    assert.ok(lastFromA - cutAt < 7_000, `A stopped within its session check (5 s) and a poll: ${lastFromA - cutAt} ms`);
    assert.ok(receiver.requests.filter((r) => r.at > lastFromA).every((r) => from(r) === 'b'), 'after A stopped, only B sent');
    const delivered = receiver.requests.filter((r) => r.outcome === 200).flatMap(eventsOf);
    const ids = delivered.map((e) => e.id);
    assert.equal(new Set(ids).size, ids.length, `no event acknowledged twice: ${ids.join(', ')}`);
    assert.equal(delivered.length, 4 * 3, 'every event of the four images');
    const times = delivered.map((e) => Date.parse(e.timestamp));
    assert.deepEqual([...times].sort((x, y) => x - y), times, 'in order');
  });
});
