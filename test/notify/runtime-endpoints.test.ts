import assert from 'node:assert/strict';
import { rm } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, describe, it } from 'node:test';
import type { EndpointStatus } from '../../src/notify/admin.ts';
import { checkTarget, guardedLookup, isForbiddenAddress } from '../../src/notify/endpoint-targets.ts';
import { THREAD_FAILPOINTS_ENV } from '../../src/notify/threads/thread-failpoint.ts';
import { randomBlob } from '../helpers/oci.ts';
import { startPostgres, type TestPostgres } from '../helpers/postgres.ts';
import { WebhookReceiver } from '../helpers/receiver.ts';
import { startTestRegistry, type TestRegistry } from '../helpers/registry.ts';
import { eventually, NotifyClient } from './support.ts';

/**
 * Endpoints created, changed and removed through the operator API while the registry runs: real
 * registries on loopback, real receivers, real HTTP. The target guard is on (loopback refused), so
 * each receiver an endpoint may use is named in `notifications.admin.allowtargets`.
 */

const FAST = { timeout: '500ms', backoff: '20ms', threshold: 2, maxbackoff: '100ms' };

interface Answer {
  status: number;
  body: any; // eslint-disable-line @typescript-eslint/no-explicit-any -- JSON as the test reads it
}

async function api(base: string, method: string, path: string, body?: unknown): Promise<Answer> {
  const res = await fetch(new URL(path, base), {
    method,
    ...(body === undefined ? {} : { body: JSON.stringify(body), headers: { 'content-type': 'application/json' } }),
  });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : null };
}

async function endpoints(base: string): Promise<EndpointStatus[]> {
  const { status, body } = await api(base, 'GET', '/notifications/endpoints');
  assert.equal(status, 200);
  return body.endpoints as EndpointStatus[];
}

/** Pushes one fresh blob to `repo` (one push event). */
async function pushBlob(client: NotifyClient, repo: string): Promise<string> {
  const blob = randomBlob(64);
  const res = await client.pushBlob(repo, blob.data, blob.digest);
  assert.equal(res.status, 201);
  return blob.digest;
}

/** The repositories of the events received, each event once (at least once: a change may repeat one). */
const repositories = (rx: WebhookReceiver) => [...new Map(rx.events().map((e) => [e.id, e.target.repository])).values()];

/** Waits, bounded, until the endpoint has this many queued events. */
async function pendingAt(base: string, name: string, n: number): Promise<void> {
  const deadline = Date.now() + 5_000;
  for (;;) {
    const state = (await endpoints(base)).find((e) => e.name === name);
    if (state && state.pending >= n) return;
    if (Date.now() > deadline) assert.fail(`endpoint ${name}: expected ${n} pending events, got ${state?.pending}`);
    await sleep(20);
  }
}

const code = (a: Answer) => (a.body as { errors: { code: string }[] }).errors[0]!.code;
const detail = (a: Answer) => (a.body as { errors: { detail: any }[] }).errors[0]!.detail; // eslint-disable-line @typescript-eslint/no-explicit-any

describe('runtime endpoints: created without a restart, kept across one, removed by drain or discard', { timeout: 40_000 }, () => {
  let live: WebhookReceiver;
  let gone: WebhookReceiver;
  let registry: TestRegistry | null = null;
  let root = '';
  const config = () => ({
    notifications: { admin: { allowtargets: [`127.0.0.1:${live.port}`, `127.0.0.1:${gone.port}`] } },
  });

  before(async () => {
    live = await WebhookReceiver.start();
    gone = await WebhookReceiver.start();
    registry = await startTestRegistry(config());
    root = registry.root;
  });
  after(async () => {
    await registry?.close();
    await rm(root, { recursive: true, force: true });
    await live.close();
    await gone.close();
  });

  it('starts with no endpoint and no threads; a POSTed endpoint receives the next push', async () => {
    const base = registry!.url;
    assert.deepEqual(await endpoints(base), []);
    const threadsMetric = 'registry_notifications_events_total'; // registered by the threaded notifier
    assert.equal(registry!.metrics.getSingleMetric(threadsMetric), undefined, 'no notification threads before the first endpoint');
    const created = await api(base, 'POST', '/notifications/endpoints', { name: 'live', url: live.url(), ...FAST });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    assert.equal(created.body.name, 'live');
    assert.equal(created.body.url, live.url());
    assert.equal(created.body.source, 'runtime');
    assert.equal(created.body.inbox, false);
    assert.ok(registry!.metrics.getSingleMetric(threadsMetric), 'the first endpoint started them');
    await pushBlob(new NotifyClient(base), 'rt/first');
    await live.waitFor(1);
    assert.deepEqual(repositories(live), ['rt/first']);
  });

  it('survives a restart: the stored endpoint starts notifications and keeps receiving', async () => {
    await registry!.close();
    registry = null;
    registry = await startTestRegistry({ ...config(), storage: { filesystem: { rootdirectory: root } } });
    const listed = (await endpoints(registry.url)).find((e) => e.name === 'live');
    assert.equal(listed?.source, 'runtime');
    await pushBlob(new NotifyClient(registry.url), 'rt/after-restart');
    await live.waitFor(2);
    assert.deepEqual(repositories(live), ['rt/first', 'rt/after-restart']);
  });

  it('refuses to remove an endpoint with queued events unless asked to drain or discard (409)', async () => {
    const base = registry!.url;
    live.behaviour = () => ({ status: 503 });
    await pushBlob(new NotifyClient(base), 'rt/queued');
    await pendingAt(base, 'live', 1);
    const refused = await api(base, 'DELETE', '/notifications/endpoints/live');
    assert.equal(refused.status, 409);
    assert.equal(code(refused), 'ENDPOINT_NOT_DRAINED');
    assert.equal(detail(refused).pending, 1);
    const bad = await api(base, 'DELETE', '/notifications/endpoints/live?pending=later');
    assert.equal(bad.status, 400);
  });

  it('drain: routing stops at once, the queue is delivered, then the endpoint is gone', async () => {
    const base = registry!.url;
    const draining = await api(base, 'DELETE', '/notifications/endpoints/live?pending=drain');
    assert.equal(draining.status, 202);
    assert.equal((await endpoints(base)).find((e) => e.name === 'live')?.draining, true);
    await pushBlob(new NotifyClient(base), 'rt/after-delete'); // not routed to a draining endpoint
    live.behaviour = () => ({ status: 200 });
    await live.waitFor(3);
    const deadline = Date.now() + 5_000;
    while ((await endpoints(base)).some((e) => e.name === 'live')) {
      if (Date.now() > deadline) assert.fail('the drained endpoint is still listed');
      await sleep(50);
    }
    await sleep(200);
    assert.deepEqual(repositories(live), ['rt/first', 'rt/after-restart', 'rt/queued']);
  });

  it('discard: queued events are dropped and nothing more arrives', async () => {
    const base = registry!.url;
    gone.behaviour = () => ({ status: 503 });
    assert.equal((await api(base, 'POST', '/notifications/endpoints', { name: 'gone', url: gone.url(), ...FAST })).status, 201);
    await pushBlob(new NotifyClient(base), 'rt/discarded');
    await pendingAt(base, 'gone', 1);
    const removed = await api(base, 'DELETE', '/notifications/endpoints/gone?pending=discard');
    assert.equal(removed.status, 204);
    gone.behaviour = () => ({ status: 200 });
    const failedSoFar = gone.requests.length;
    await pushBlob(new NotifyClient(base), 'rt/after-discard');
    await sleep(500);
    assert.equal(gone.requests.length, failedSoFar, 'nothing delivered after the discard');
    assert.deepEqual(gone.accepted(), []);
    assert.equal((await endpoints(base)).some((e) => e.name === 'gone'), false);
    // Removed is removed: the name is free again, and the new endpoint starts empty.
    assert.equal((await api(base, 'DELETE', '/notifications/endpoints/gone')).status, 404);
  });
});

describe('runtime endpoints beside config endpoints: the guard, read-only config, changes, validation, inboxes', { timeout: 40_000 }, () => {
  let cfg: WebhookReceiver;
  let allowed: WebhookReceiver;
  let forbidden: WebhookReceiver;
  let filtered: WebhookReceiver;
  let registry: TestRegistry;
  let client: NotifyClient;

  before(async () => {
    cfg = await WebhookReceiver.start();
    allowed = await WebhookReceiver.start();
    forbidden = await WebhookReceiver.start();
    filtered = await WebhookReceiver.start();
    registry = await startTestRegistry({
      notifications: {
        endpoints: [{ name: 'cfg', url: cfg.url(), ...FAST }],
        admin: { allowtargets: [`127.0.0.1:${allowed.port}`, `127.0.0.1:${filtered.port}`] },
      },
    });
    client = new NotifyClient(registry.url);
  });
  after(async () => {
    await registry?.stop();
    for (const r of [cfg, allowed, forbidden, filtered]) await r.close();
  });

  it('refuses private, link-local and unlisted loopback targets with 422 before anything is sent', async () => {
    const targets = {
      private: 'http://10.1.2.3/hook',
      metadata: 'http://169.254.169.254/latest/meta-data/',
      loopback: forbidden.url(),
      mapped: `http://[::ffff:127.0.0.1]:${forbidden.port}/hook`,
      localhost: `http://localhost:${forbidden.port}/hook`,
    };
    for (const [name, url] of Object.entries(targets)) {
      const refused = await api(registry.url, 'POST', '/notifications/endpoints', { name, url, ...FAST });
      assert.equal(refused.status, 422, `${name}: ${JSON.stringify(refused.body)}`);
      assert.equal(code(refused), 'TARGET_FORBIDDEN');
      assert.ok(typeof detail(refused).address === 'string', `${name}: names the address`);
    }
    assert.match(JSON.stringify((await api(registry.url, 'POST', '/notifications/endpoints', { name: 'p', url: targets.private })).body), /10\.1\.2\.3/);
    const jetstream = { name: 'js', url: 'nats://10.1.2.3:4222', jetstream: { stream: 'S', subject: 'registry.events' } };
    assert.equal((await api(registry.url, 'POST', '/notifications/endpoints', jetstream)).status, 422, 'a JetStream target is checked too');
    await pushBlob(client, 'guard/x');
    await cfg.waitFor(1);
    assert.equal(forbidden.requests.length, 0, 'the refused loopback receiver got nothing');
    assert.equal((await endpoints(registry.url)).some((e) => Object.keys(targets).includes(e.name)), false);
  });

  it('accepts a loopback target named by allowtargets (127.0.0.1:<port>)', async () => {
    const created = await api(registry.url, 'POST', '/notifications/endpoints', { name: 'allowed', url: allowed.url(), ...FAST });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    await pushBlob(client, 'guard/allowed');
    await allowed.waitFor(1);
    assert.deepEqual(repositories(allowed), ['guard/allowed']);
  });

  it('a config endpoint cannot be changed or removed through the API (409 ENDPOINT_READ_ONLY)', async () => {
    for (const [method, path, body] of [
      ['PUT', '/notifications/endpoints/cfg', { name: 'cfg', url: allowed.url() }],
      ['PATCH', '/notifications/endpoints/cfg', { timeout: '1s' }],
      ['DELETE', '/notifications/endpoints/cfg?pending=discard', undefined],
    ] as const) {
      const refused = await api(registry.url, method, path, body);
      assert.equal(refused.status, 409, method);
      assert.equal(code(refused), 'ENDPOINT_READ_ONLY');
      assert.match((refused.body as { errors: { message: string }[] }).errors[0]!.message, /config.*restart/);
    }
    const taken = await api(registry.url, 'POST', '/notifications/endpoints', { name: 'cfg', url: allowed.url() });
    assert.equal(taken.status, 409);
    assert.equal(code(taken), 'ENDPOINT_EXISTS');
    const status = (await endpoints(registry.url)).find((e) => e.name === 'cfg');
    assert.equal(status?.source, 'config');
    assert.equal(status?.inbox, undefined);
  });

  it('PUT and PATCH change what is delivered (the filter), at once', async () => {
    const base = registry.url;
    const created = await api(base, 'POST', '/notifications/endpoints', { name: 'filtered', url: filtered.url(), ...FAST, repositories: { include: ['one/*'] } });
    assert.equal(created.status, 201);
    await pushBlob(client, 'one/a');
    await pushBlob(client, 'two/a');
    await filtered.waitFor(1);
    const patched = await api(base, 'PATCH', '/notifications/endpoints/filtered', { repositories: { include: ['two/*'] } });
    assert.equal(patched.status, 200, JSON.stringify(patched.body));
    assert.equal(patched.body.name, 'filtered');
    await pushBlob(client, 'one/b');
    await pushBlob(client, 'two/b');
    await filtered.waitFor(2);
    const put = await api(base, 'PUT', '/notifications/endpoints/filtered', { url: filtered.url(), ...FAST });
    assert.equal(put.status, 200, JSON.stringify(put.body));
    await pushBlob(client, 'three/c');
    await filtered.waitFor(3);
    await sleep(100);
    assert.deepEqual(repositories(filtered), ['one/a', 'two/b', 'three/c']);
    const definition = await api(base, 'GET', '/notifications/endpoints/filtered/definition');
    assert.deepEqual(definition.body, { name: 'filtered', source: 'runtime', inbox: false, definition: { name: 'filtered', url: filtered.url(), ...FAST } });
  });

  it('refuses invalid definitions with 400 INVALID_ENDPOINT and the schema issues', async () => {
    const invalid = await api(registry.url, 'POST', '/notifications/endpoints', { name: 'bad name!', url: 'ftp://example.com/', colour: 'red' });
    assert.equal(invalid.status, 400);
    assert.equal(code(invalid), 'INVALID_ENDPOINT');
    const paths = (detail(invalid).issues as { path: string }[]).map((i) => i.path);
    for (const p of ['name', 'url']) assert.ok(paths.includes(p), `issues name ${p}: ${JSON.stringify(paths)}`);
    const rename = await api(registry.url, 'PATCH', '/notifications/endpoints/allowed', { name: 'other' });
    assert.equal(rename.status, 400);
    assert.equal(code(rename), 'INVALID_ENDPOINT');
    const notJson = await api(registry.url, 'POST', '/notifications/endpoints', ['a']);
    assert.equal(notJson.status, 400);
    assert.equal((await api(registry.url, 'PUT', '/notifications/endpoints/nobody', { url: allowed.url() })).status, 404);
  });

  it('creates an inbox endpoint aimed at the registry itself, with a generated Standard Webhooks secret', async () => {
    const created = await api(registry.url, 'POST', '/notifications/endpoints', { name: 'box', inbox: true });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    assert.equal(created.body.url, `${registry.url}/ui/inbox/box`);
    assert.equal(created.body.inbox, true);
    assert.equal(created.body.source, 'runtime');
    const definition = await api(registry.url, 'GET', '/notifications/endpoints/box/definition');
    const secret = definition.body.definition.secret as string;
    assert.match(secret, /^whsec_[A-Za-z0-9+/]+=*$/);
    assert.equal(Buffer.from(secret.slice('whsec_'.length), 'base64').length, 24);
    const withUrl = await api(registry.url, 'POST', '/notifications/endpoints', { name: 'box2', inbox: true, url: allowed.url() });
    assert.equal(withUrl.status, 400);
    // Changing its filter keeps it an inbox, with its own target and secret.
    const patched = await api(registry.url, 'PATCH', '/notifications/endpoints/box', { includehead: true });
    assert.equal(patched.status, 200, JSON.stringify(patched.body));
    assert.equal(patched.body.inbox, true);
    assert.equal((await api(registry.url, 'DELETE', '/notifications/endpoints/box?pending=discard')).status, 204);
  });
});

describe('the target guard', () => {
  it('refuses loopback, private, CGNAT, link-local, unspecified and IPv4-mapped such addresses, and only those', () => {
    const forbidden = ['127.0.0.1', '127.8.9.10', '10.0.0.1', '172.16.5.4', '172.31.255.255', '192.168.1.1', '100.64.0.1', '169.254.169.254', '0.0.0.0', '::1', '::', 'fc00::1', 'fd12:3456::1', 'fe80::1', '::ffff:10.0.0.1', '::ffff:7f00:1'];
    const public_ = ['8.8.8.8', '172.32.0.1', '100.128.0.1', '192.169.0.1', '2001:4860:4860::8888', '::ffff:8.8.8.8'];
    for (const a of forbidden) assert.equal(isForbiddenAddress(a), true, a);
    for (const a of public_) assert.equal(isForbiddenAddress(a), false, a);
  });

  it('lets allowtargets name a host, a host:port or a CIDR, and allowprivatetargets everything', async () => {
    const refuse = (url: string, allow: string[], allowPrivate = false) => checkTarget(url, { allowPrivate, allow }).then(() => 'allowed', () => 'refused');
    assert.equal(await refuse('http://10.1.2.3:8080/', ['10.0.0.0/8']), 'allowed');
    assert.equal(await refuse('http://10.1.2.3:8080/', ['10.1.2.3:8080']), 'allowed');
    assert.equal(await refuse('http://10.1.2.3:8081/', ['10.1.2.3:8080']), 'refused');
    assert.equal(await refuse('http://10.1.2.3/', ['10.1.2.3']), 'allowed');
    assert.equal(await refuse('http://[::1]:9/', ['::1']), 'allowed');
    assert.equal(await refuse('http://[::1]:9/', ['[::1]:10']), 'refused');
    assert.equal(await refuse('http://192.168.0.1/', [], true), 'allowed');
    assert.equal(await refuse('http://2130706433/', []), 'refused'); // 127.0.0.1, as the URL parser reads it
  });
});

describe('the target guard at connection time', () => {
  it('refuses a name that resolves to loopback when the delivery thread connects (DNS rebinding)', async () => {
    const lookup = guardedLookup({ allowPrivate: false, allow: [] }, 80);
    const refused = await new Promise<NodeJS.ErrnoException | null>((resolve) => lookup('localhost', {}, (err) => resolve(err)));
    assert.equal(refused?.code, 'ETARGETFORBIDDEN');
    assert.match(refused?.message ?? '', /localhost resolves to/);
    const allowed = guardedLookup({ allowPrivate: false, allow: ['localhost:80'] }, 80);
    const address = await new Promise<string>((resolve, reject) => allowed('localhost', {}, (err, a) => (err ? reject(err) : resolve(a as string))));
    assert.ok(address.length > 0);
  });
});

describe('runtime endpoints on a shared PostgreSQL outbox', { timeout: 40_000 }, () => {
  let db: TestPostgres;
  let receiver: WebhookReceiver;
  let a: TestRegistry;
  let b: TestRegistry;

  before(async () => {
    db = await startPostgres();
    receiver = await WebhookReceiver.start();
    const config = { notifications: { outbox: { postgres: { url: db.url } }, admin: { allowtargets: [`127.0.0.1:${receiver.port}`] } } };
    a = await startTestRegistry(config);
    b = await startTestRegistry(config);
  });
  after(async () => {
    await a?.stop();
    await b?.stop();
    await receiver?.close();
    await db?.stop();
  });

  it('an endpoint created on replica A is picked up by B and delivered by whichever holds its lease, once', async () => {
    const created = await api(a.url, 'POST', '/notifications/endpoints', { name: 'shared', url: receiver.url(), ...FAST });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    const started = Date.now();
    await eventually(async () => (await endpoints(b.url)).some((e) => e.name === 'shared' && e.source === 'runtime'), 'B lists the endpoint', 5_000);
    assert.ok(Date.now() - started < 2_500, `B picked it up in ${Date.now() - started} ms`);
    const delivering = async () => (await Promise.all([a, b].map(async (r) => (await endpoints(r.url)).find((e) => e.name === 'shared')?.delivering === true))).filter(Boolean).length;
    await eventually(async () => (await delivering()) === 1, 'one replica holds the lease', 5_000);
    await pushBlob(new NotifyClient(b.url), 'shared/from-b');
    await pushBlob(new NotifyClient(a.url), 'shared/from-a');
    await receiver.waitFor(2);
    await sleep(200);
    assert.deepEqual(receiver.events().map((e) => e.target.repository).sort(), ['shared/from-a', 'shared/from-b']);
  });

  it('removed on B, it stops on A too', async () => {
    assert.equal((await api(b.url, 'DELETE', '/notifications/endpoints/shared?pending=discard')).status, 204);
    await eventually(async () => !(await endpoints(a.url)).some((e) => e.name === 'shared'), 'A no longer lists it', 5_000);
    const before = receiver.requests.length;
    await pushBlob(new NotifyClient(a.url), 'shared/after');
    await sleep(500);
    assert.equal(receiver.requests.length, before);
  });
});

describe('a runtime endpoint across a delivery thread restart', { timeout: 30_000 }, () => {
  let receiver: WebhookReceiver;
  let registry: TestRegistry;

  before(async () => {
    receiver = await WebhookReceiver.start();
    registry = await startTestRegistry({ notifications: { admin: { allowtargets: [`127.0.0.1:${receiver.port}`] } } });
  });
  after(async () => {
    await registry?.stop();
    await receiver?.close();
  });

  it('is delivered by the restarted thread too (it starts with the runtime endpoints there are)', async () => {
    // Read when notifications start, which is at the first POST: the thread dies after its first 2xx.
    process.env[THREAD_FAILPOINTS_ENV] = 'delivery.delivered@1';
    try {
      assert.equal((await api(registry.url, 'POST', '/notifications/endpoints', { name: 'rt', url: receiver.url(), ...FAST })).status, 201);
    } finally {
      delete process.env[THREAD_FAILPOINTS_ENV];
    }
    const client = new NotifyClient(registry.url);
    await pushBlob(client, 'restart/one');
    await receiver.waitFor(1);
    await eventually(async () => (await endpoints(registry.url).catch(() => [])).some((e) => e.name === 'rt'), 'the endpoint is listed again', 10_000);
    await pushBlob(client, 'restart/two');
    await receiver.until(() => repositories(receiver).length >= 2, 10_000, () => `got ${repositories(receiver).join(', ')}`);
    assert.deepEqual(repositories(receiver), ['restart/one', 'restart/two']);
  });
});
