import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Event } from '../../src/notify/event.ts';
import { MediaTypes, ociImage, randomBlob } from '../helpers/oci.ts';
import { WebhookReceiver, eventsOf } from '../helpers/receiver.ts';
import { startTestRegistry, type TestRegistry } from '../helpers/registry.ts';
import { actions, assertEnvelopes, drained, endpoint, NotifyClient, OCTET, V2 } from './support.ts';

/**
 * One registry, one endpoint per filter setting, each with its own receiver. The same operations
 * feed all of them; an event is broadcast with one id, so each endpoint's expected events are the
 * unfiltered endpoint's events, selected by what its config says.
 */
const ENDPOINTS: Record<string, Record<string, unknown>> = {
  all: {},
  octet: { ignoredmediatypes: [OCTET] },
  nomanifest: { ignore: { mediatypes: [MediaTypes.ociManifest] } },
  nopull: { ignore: { actions: ['pull', 'mount'] } },
  repos: { repositories: { include: ['team/*', 'shared/**'], exclude: ['team/secret*'] } },
  head: { includehead: true },
  off: { disabled: true },
  v2: { envelope: 'v2' },
  batch: { batch: { maxevents: 3, maxwait: '150ms' } },
};

describe('endpoint filters, envelopes and batching', { timeout: 60_000 }, () => {
  let registry: TestRegistry;
  let client: NotifyClient;
  const receivers = new Map<string, WebhookReceiver>();
  let all: Event[] = [];

  const rx = (name: string) => receivers.get(name)!;
  const ids = (events: Event[]) => events.map((e) => e.id);

  before(async () => {
    for (const name of Object.keys(ENDPOINTS)) receivers.set(name, await WebhookReceiver.start());
    registry = await startTestRegistry({
      notifications: { endpoints: Object.entries(ENDPOINTS).map(([name, extra]) => endpoint(rx(name), { name, ...extra })) },
    });
    client = new NotifyClient(registry.url);

    const image = await client.pushImage('team/app', 'v1', ociImage({ layers: 1 }));
    for (const repo of ['team/a/b', 'team/secret-x', 'shared/x/y', 'other/app']) {
      const blob = randomBlob(64);
      assert.equal((await client.pushBlob(repo, blob.data, blob.digest)).status, 201);
    }
    const reads: [string, string][] = [
      ['GET', '/v2/team/app/manifests/v1'],
      ['HEAD', '/v2/team/app/manifests/v1'],
      ['HEAD', `/v2/team/app/blobs/${image.config.digest}`],
      ['GET', `/v2/team/app/blobs/${image.config.digest}`],
      ['POST', `/v2/other/app/blobs/uploads/?mount=${image.config.digest}&from=team/app`],
    ];
    for (const [method, path] of reads) {
      const res = await client.fetch(path, { method });
      await res.arrayBuffer();
      assert.ok(res.status < 300, `${method} ${path}: ${res.status}`);
    }
    // Refused requests emit nothing, HEAD included: a HEAD whose Accept excludes the manifest's type, and a HEAD of an unknown blob.
    const refused = await client.fetch('/v2/team/app/manifests/v1', { method: 'HEAD', headers: { accept: MediaTypes.dockerManifest } });
    assert.equal(refused.status, 404, 'HEAD refused by content negotiation');
    const unknownBlob = await client.fetch(`/v2/team/app/blobs/${randomBlob(8).digest}`, { method: 'HEAD' });
    assert.equal(unknownBlob.status, 404);
    const del = await client.fetch('/v2/team/app/manifests/v1', { method: 'DELETE' });
    assert.equal(del.status, 202);
    for (const name of Object.keys(ENDPOINTS)) if (name !== 'off') await drained(registry, name);
    all = assertEnvelopes(rx('all'));
  });
  after(async () => {
    for (const r of receivers.values()) await r.close();
    await registry?.stop();
  });

  it('delivers every operation to an endpoint without filters', () => {
    const digestless = (s: string) => s.replace(/@.*/, '');
    assert.deepEqual(actions(all).map(digestless), [
      'push team/app', 'push team/app', 'push team/app:v1',
      'push team/a/b', 'push team/secret-x', 'push shared/x/y', 'push other/app',
      'pull team/app:v1', 'pull team/app', 'mount other/app', 'delete team/app:v1',
    ]);
  });

  it('drops blob events for ignoredmediatypes: [application/octet-stream]', () => {
    assert.deepEqual(ids(assertEnvelopes(rx('octet'))), ids(all.filter((e) => e.target.mediaType !== OCTET)));
  });

  it('drops manifest events for ignore.mediatypes', () => {
    assert.deepEqual(ids(assertEnvelopes(rx('nomanifest'))), ids(all.filter((e) => e.target.mediaType !== MediaTypes.ociManifest)));
  });

  it('drops the actions named in ignore.actions', () => {
    assert.deepEqual(ids(assertEnvelopes(rx('nopull'))), ids(all.filter((e) => e.action !== 'pull' && e.action !== 'mount')));
  });

  it('keeps only repositories matching repositories.include and not repositories.exclude (* within a component, ** across)', () => {
    const got = assertEnvelopes(rx('repos'));
    assert.deepEqual(ids(got), ids(all.filter((e) => ['team/app', 'shared/x/y'].includes(e.target.repository))));
  });

  it('adds HEAD requests as pulls with includehead: true, but not refused HEADs', () => {
    const got = assertEnvelopes(rx('head'));
    const heads = got.filter((e) => e.request.method === 'HEAD');
    assert.deepEqual(ids(got.filter((e) => e.request.method !== 'HEAD')), ids(all));
    assert.deepEqual(heads.map((e) => [e.action, e.target.repository, e.target.mediaType, e.target.tag]), [
      ['pull', 'team/app', MediaTypes.ociManifest, 'v1'],
      ['pull', 'team/app', OCTET, undefined],
    ]);
    assert.deepEqual(actions(got).slice(8, 10).map((s) => s.replace(/@.*/, '')), ['pull team/app:v1', 'pull team/app'], 'in request order');
  });

  it('sends nothing to an endpoint with disabled: true', () => {
    assert.equal(rx('off').requests.length, 0);
  });

  it('sends the v2 media type with envelope: v2, same body', () => {
    assert.deepEqual(ids(assertEnvelopes(rx('v2'), V2)), ids(all));
  });

  it('sends at most maxevents per request with batch, in order, and really batches', () => {
    const requests = rx('batch').accepted();
    const sizes = requests.map((r) => eventsOf(r).length);
    assert.ok(sizes.every((n) => n >= 1 && n <= 3), `batch sizes ${sizes.join(',')}`);
    assert.deepEqual(ids(assertEnvelopes(rx('batch'))), ids(all));
    assert.ok(requests.length < all.length, `batch sizes ${sizes.join(',')}: some request carried more than one event`);
  });
});

describe('batching under concurrent pushes', { timeout: 30_000 }, () => {
  let registry: TestRegistry;
  let batch: WebhookReceiver;
  let single: WebhookReceiver;
  before(async () => {
    batch = await WebhookReceiver.start();
    single = await WebhookReceiver.start();
    registry = await startTestRegistry({
      notifications: {
        endpoints: [endpoint(batch, { name: 'batch', batch: { maxevents: 4, maxwait: '300ms' } }), endpoint(single, { name: 'single' })],
      },
    });
  });
  after(async () => {
    await batch?.close();
    await single?.close();
    await registry?.stop();
  });

  it('splits 10 near-simultaneous events into requests of at most 4, in queue order, the first waiting up to maxwait', async () => {
    const client = new NotifyClient(registry.url);
    const started = Date.now();
    await Promise.all(
      Array.from({ length: 10 }, async (_, i) => {
        const blob = randomBlob(40 + i);
        assert.equal((await client.pushBlob(`conc/app${i}`, blob.data, blob.digest)).status, 201);
      }),
    );
    await batch.waitFor(10, 5_000);
    await single.waitFor(10, 5_000);
    const sizes = batch.accepted().map((r) => eventsOf(r).length);
    assert.ok(sizes.every((n) => n <= 4), `batch sizes ${sizes.join(',')}`);
    assert.ok(sizes.length <= 5, `batch sizes ${sizes.join(',')}`);
    assert.deepEqual(batch.events().map((e) => e.id), single.events().map((e) => e.id), 'same order as the unbatched endpoint');
    assert.ok(single.accepted().every((r) => eventsOf(r).length === 1), 'no batching without batch');
    // From the oldest event in the first request (when it was queued, give or take the commit) to its arrival.
    const first = batch.requests[0]!;
    const oldest = Math.min(...eventsOf(first).map((e) => Date.parse(e.timestamp)));
    assert.ok(first.at - oldest < 2_000, `the first batch did not wait much past maxwait: ${first.at - oldest} ms`);
    assert.ok(first.at >= started);
  });
});
