import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import type { AttemptRecord } from '../../src/notify/outbox/outbox-client.ts';
import { randomBlob } from '../helpers/oci.ts';
import { eventsOf, failFirst, ok } from '../helpers/receiver.ts';
import { committedSchema, jsonSchemaViolations } from './json-schema.ts';
import { adminJson, assertValidEvent, drained, resetBeforeEach, useWithReceiver, V1 } from './support.ts';

/** One attempt as GET .../deliveries lists it: an ISO 8601 instant, as every time in the operator API. */
type Attempt = Omit<AttemptRecord, 'at'> & { at: string };

interface PingResult {
  endpoint: string;
  event: string;
  status: number | null;
  latencyMs: number;
  error: string | null;
  response: string | null;
}

describe('the notifications admin API and metrics', { timeout: 30_000 }, () => {
  const h = useWithReceiver({
    endpoint: { timeout: '300ms' },
    config: { http: { debug: { addr: '127.0.0.1:0', prometheus: { enabled: true } } } },
  });
  let metricsUrl: string;

  before(() => {
    assert.ok(h.registry.debugPort, 'the debug server is listening');
    metricsUrl = `http://127.0.0.1:${h.registry.debugPort}/metrics`;
  });
  resetBeforeEach(h, ok);

  const ping = (name = 'hook', status = 200) => adminJson<PingResult>(h.registry, `/notifications/endpoints/${name}/ping`, { method: 'POST' }, status);
  const deliveries = (query = '') => adminJson<{ endpoint: string; deliveries: Attempt[] }>(h.registry, `/notifications/endpoints/hook/deliveries${query}`);

  it('pings an endpoint and reports the status of the attempt; the receiver gets a ping event', async () => {
    const result = await ping();
    assert.equal(result.endpoint, 'hook');
    assert.equal(result.status, 200);
    assert.equal(result.error, null);
    assert.equal(typeof result.latencyMs, 'number');
    assert.equal(h.receiver.requests.length, 1);
    const r = h.receiver.requests[0]!;
    assert.equal(r.headers['content-type'], V1);
    const [event] = eventsOf(r);
    assert.equal(event!.action, 'ping');
    assert.equal(event!.id, result.event);
    assertValidEvent(event!);
  });

  it('reports a failing ping’s status and error, and a ping that gets no answer', async () => {
    h.receiver.behaviour = () => ({ status: 503, body: 'maintenance' });
    const failed = await ping();
    assert.equal(failed.status, 503);
    assert.match(failed.error ?? '', /503/);
    assert.equal(failed.response, 'maintenance');
    h.receiver.behaviour = () => 'hang';
    const hung = await ping();
    assert.equal(hung.status, null);
    assert.match(hung.error ?? '', /300 ms|timeout|time/i);
    const unknown = await fetch(new URL('/notifications/endpoints/nope/ping', h.registry.url), { method: 'POST' });
    assert.equal(unknown.status, 404);
    assert.equal(((await unknown.json()) as { errors: { code: string }[] }).errors[0]!.code, 'ENDPOINT_UNKNOWN');
  });

  it('lists delivery attempts, newest first, with status, latency, error and the head of the response', async () => {
    h.receiver.behaviour = failFirst(1, { status: 500, body: 'x'.repeat(2000) }, () => ({ status: 200, body: 'thanks' }));
    const blob = randomBlob(90);
    assert.equal((await h.client.pushBlob('admin/app', blob.data, blob.digest)).status, 201);
    const [event] = await h.receiver.waitFor(1);
    await drained(h.registry);
    const { endpoint, deliveries: list } = await deliveries('?limit=2');
    assert.equal(endpoint, 'hook');
    assert.equal(list.length, 2);
    const [okAttempt, failedAttempt] = list;
    assert.deepEqual(okAttempt!.eventIds, [event!.id]);
    assert.equal(okAttempt!.status, 200);
    assert.equal(okAttempt!.error, null);
    assert.equal(okAttempt!.response, 'thanks');
    assert.ok(okAttempt!.latencyMs >= 0 && okAttempt!.latencyMs < 5_000);
    assert.deepEqual(failedAttempt!.eventIds, [event!.id]);
    assert.equal(failedAttempt!.status, 500);
    assert.match(failedAttempt!.error ?? '', /500/);
    assert.ok(failedAttempt!.response!.length > 0 && failedAttempt!.response!.length <= 1024, 'only the head of a long response is kept');
    assert.match(okAttempt!.at, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    assert.ok(Date.parse(okAttempt!.at) >= Date.parse(failedAttempt!.at));
    await adminJson(h.registry, '/notifications/endpoints/hook/deliveries?limit=0', {}, 400);
    // The operator API's own code: a malformed parameter is not an "unsupported operation".
    const bad = await fetch(new URL('/notifications/endpoints/hook/deliveries?limit=abc', h.registry.url));
    assert.equal(bad.status, 400);
    const [error] = ((await bad.json()) as { errors: { code: string; detail: { parameter: string } }[] }).errors;
    assert.equal(error!.code, 'INVALID_PARAMETER');
    assert.equal(error!.detail.parameter, 'limit');
  });

  it('records an attempt that got no answer with a null status and an error', async () => {
    h.receiver.behaviour = failFirst(1, 'hang');
    const blob = randomBlob(91);
    assert.equal((await h.client.pushBlob('admin/app', blob.data, blob.digest)).status, 201);
    await h.receiver.waitFor(1);
    await drained(h.registry);
    const [, timedOut] = (await deliveries('?limit=2')).deliveries;
    assert.equal(timedOut!.status, null);
    assert.match(timedOut!.error ?? '', /300 ms|timeout/i);
    assert.ok(timedOut!.latencyMs >= 250, `latency ${timedOut!.latencyMs}`);
  });

  it('counts a 2xx whose body runs past the drain limit as delivered once, keeping only its head', async () => {
    h.receiver.behaviour = () => ({ status: 202, body: 'y'.repeat(300 * 1024) });
    const blob = randomBlob(92);
    assert.equal((await h.client.pushBlob('admin/app', blob.data, blob.digest)).status, 201);
    const [event] = await h.receiver.waitFor(1);
    await drained(h.registry);
    const [attempt] = (await deliveries('?limit=1')).deliveries;
    assert.deepEqual(attempt!.eventIds, [event!.id]);
    assert.equal(attempt!.status, 202);
    assert.equal(attempt!.error, null);
    assert.equal(attempt!.response, 'y'.repeat(512), 'the first 512 bytes, though the connection was dropped after 64 KiB');
    assert.equal(h.receiver.requests.length, 1, 'not retried');
  });

  it('lists the endpoint with its state', async () => {
    const { endpoints } = await adminJson<{ endpoints: Record<string, unknown>[] }>(h.registry, '/notifications/endpoints');
    assert.equal(endpoints.length, 1);
    const e = endpoints[0]!;
    assert.equal(e.name, 'hook');
    assert.equal(e.url, h.receiver.url());
    assert.equal(e.disabled, false);
    assert.equal(e.pending, 0);
    assert.ok((e.delivered as number) >= 2);
  });

  it('serves Distribution’s notification metrics and Dockyard’s per-endpoint ones on the debug server', async () => {
    h.receiver.behaviour = failFirst(2, { status: 500 });
    for (let i = 0; i < 3; i++) {
      const blob = randomBlob(10 + i);
      assert.equal((await h.client.pushBlob('metrics/app', blob.data, blob.digest)).status, 201);
    }
    await h.receiver.waitFor(3);
    await drained(h.registry);
    const res = await fetch(metricsUrl);
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type') ?? '', /^text\/plain/);
    const text = await res.text();
    const value = (series: string): number => {
      const line = text.split('\n').find((l) => l.startsWith(`${series} `));
      assert.ok(line, `no series ${series} in /metrics:\n${text.split('\n').filter((l) => l.includes('notifications')).join('\n')}`);
      return Number(line.slice(series.length + 1));
    };
    // Everything so far in this registry: earlier tests delivered 3 events; this one 3, after 2 failures.
    assert.equal(value('registry_notifications_events_total{type="Events",endpoint="hook"}'), 6);
    assert.ok(value('registry_notifications_events_total{type="Successes",endpoint="hook"}') >= 5);
    assert.ok(value('registry_notifications_events_total{type="Failures",endpoint="hook"}') >= 3);
    assert.ok(value('registry_notifications_events_total{type="Errors",endpoint="hook"}') >= 1);
    assert.equal(value('registry_notifications_pending_total{endpoint="hook"}'), 0);
    assert.ok(value('registry_notifications_status_total{code="200 OK",endpoint="hook"}') >= 5);
    assert.ok(value('registry_notifications_status_total{code="500 Internal Server Error",endpoint="hook"}') >= 3);
    assert.ok(value('dockyard_notifications_attempts_total{endpoint="hook",outcome="success",kind="delivery"}') >= 5);
    assert.ok(value('dockyard_notifications_attempts_total{endpoint="hook",outcome="failure",kind="delivery"}') >= 3);
    // The earlier tests' pings (one answered 200, one 503, one unanswered) are counted apart, and not as events.
    assert.equal(value('dockyard_notifications_attempts_total{endpoint="hook",outcome="success",kind="ping"}'), 1);
    assert.equal(value('dockyard_notifications_attempts_total{endpoint="hook",outcome="failure",kind="ping"}'), 1);
    assert.equal(value('dockyard_notifications_attempts_total{endpoint="hook",outcome="error",kind="ping"}'), 1);
    // The attempt's own duration: a loopback answer is well under a second, whatever the event's age.
    const deliveriesTimed = value('dockyard_notifications_attempt_duration_seconds_count{endpoint="hook",kind="delivery"}');
    assert.ok(deliveriesTimed >= 8, `attempts timed: ${deliveriesTimed}`);
    assert.ok(value('dockyard_notifications_attempt_duration_seconds_bucket{le="1",endpoint="hook",kind="delivery"}') >= 8 - 1);
    assert.ok(value('dockyard_notifications_event_age_seconds_count{endpoint="hook"}') >= 5);
    assert.match(text, /^# TYPE dockyard_notifications_dead_letters_total counter$/m);

    // A redelivery queues the event again and counts it again, so Successes never exceed Events.
    const [delivered] = (await deliveries('?limit=1')).deliveries;
    const seen = h.receiver.events().length;
    await adminJson(h.registry, `/notifications/endpoints/hook/deliveries/${delivered!.eventIds[0]}/redeliver`, { method: 'POST' }, 202);
    await h.receiver.waitFor(seen + 1);
    await drained(h.registry);
    const after = await (await fetch(metricsUrl)).text();
    const count = (type: string) => Number(after.split('\n').find((l) => l.startsWith(`registry_notifications_events_total{type="${type}",endpoint="hook"} `))!.split(' ')[1]);
    assert.equal(count('Events'), 7);
    assert.ok(count('Successes') <= count('Events'), `Successes ${count('Successes')} > Events ${count('Events')}`);
    const notFound = await fetch(`http://127.0.0.1:${h.registry.debugPort}/nothing`);
    assert.equal(notFound.status, 404);
    await notFound.text();
  });

  it('serves the event JSON Schema', async () => {
    const res = await fetch(new URL('/notifications/schema/events.json', h.registry.url));
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type') ?? '', /^application\/schema\+json/);
    const schema = (await res.json()) as {
      $schema?: string;
      type?: string;
      required?: string[];
      properties?: { events?: { type?: string; items?: { required?: string[]; properties?: Record<string, { required?: string[] }> } } };
    };
    assert.match(schema.$schema ?? '', /2020-12/);
    assert.equal(schema.type, 'object');
    assert.deepEqual(schema.required, ['events']);
    const item = schema.properties?.events?.items;
    assert.equal(schema.properties?.events?.type, 'array');
    assert.deepEqual([...(item?.required ?? [])].sort(), ['action', 'actor', 'id', 'request', 'source', 'target', 'timestamp']);
    assert.deepEqual([...(item?.properties?.request?.required ?? [])].sort(), ['addr', 'host', 'id', 'method', 'useragent']);
    assert.deepEqual(item?.properties?.target?.required, ['repository']);
    assert.deepEqual(schema, committedSchema(), 'the served schema is the committed one');
    // The validator the other tests run every delivery through does catch a stray field or a bad action.
    const event = { id: 'x', timestamp: new Date().toISOString(), action: 'push', target: { repository: 'r' }, request: { id: 'r', addr: '', host: '', method: 'GET', useragent: '' }, actor: {}, source: { addr: '', instanceID: '' } };
    assert.deepEqual(jsonSchemaViolations(committedSchema(), { events: [event] }), []);
    assert.deepEqual(jsonSchemaViolations(committedSchema(), { events: [{ ...event, extra: 1 }] }), ['$.events[0]: unexpected "extra"']);
    assert.equal(jsonSchemaViolations(committedSchema(), { events: [{ ...event, action: 'tag' }] }).length, 1);
  });
});
