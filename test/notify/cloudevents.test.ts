import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { HTTP, type CloudEventV1 } from 'cloudevents';
import { parseConfig } from '../../src/config/load.ts';
import { cloudEventJsonSchema } from '../../src/notify/delivery/envelope-encoding.ts';
import { verify } from '../../src/notify/delivery/signing.ts';
import type { Event } from '../../src/notify/event.ts';
import { configError } from '../helpers/config-error.ts';
import { ociImage, randomBlob } from '../helpers/oci.ts';
import type { ReceivedRequest } from '../helpers/receiver.ts';
import { committedSchema, jsonSchemaViolations, type JsonSchema } from './json-schema.ts';
import { assertValidEvent, drained, resetBeforeEach, useWithReceiver } from './support.ts';

const SECRET = 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw';
const CE_ATTRIBUTES = ['specversion', 'id', 'source', 'type', 'time', 'subject', 'datacontenttype', 'data'];

/** schema/cloudevent.schema.json as committed. */
const committedCloudEventSchema = JSON.parse(readFileSync(new URL('../../schema/cloudevent.schema.json', import.meta.url), 'utf8')) as JsonSchema;

function assertMatchesCloudEventSchema(ce: unknown, what: string): void {
  assert.deepEqual(jsonSchemaViolations(committedCloudEventSchema, ce), [], `${what} does not match schema/cloudevent.schema.json`);
}

/** What the CloudEvents SDK makes of a request, as a consumer's HTTP server would hand it over. */
function sdkEvents(r: ReceivedRequest): CloudEventV1<Event>[] {
  const parsed = HTTP.toEvent<Event>({ headers: r.headers, body: r.raw });
  return Array.isArray(parsed) ? parsed : [parsed];
}

/** The attributes Dockyard promises for a registry event, checked on whatever carried them; the event as the committed schema says. */
function assertAttributes(ce: Record<string, unknown>, event: Event): void {
  const eventSchema = committedSchema().properties!.events!.items as JsonSchema;
  assert.deepEqual(jsonSchemaViolations(eventSchema, event), [], 'the data is an event of schema/events.schema.json');
  assert.equal(ce.specversion, '1.0');
  assert.equal(ce.id, event.id, 'id is the event id');
  assert.equal(ce.source, `dockyard://${event.source.addr}`, 'source names the registry node');
  assert.equal(ce.type, `io.dockyard.registry.${event.action}`);
  assert.equal(ce.time, event.timestamp, 'time is the event timestamp');
  assert.equal(ce.subject, event.target.repository, 'subject is the repository');
}

function structuredEvents(requests: ReceivedRequest[]): { request: ReceivedRequest; ce: Record<string, unknown> }[] {
  return requests.map((request) => {
    assert.equal(request.headers['content-type'], 'application/cloudevents+json', `content-type of #${request.index}`);
    assertMatchesCloudEventSchema(request.body, `delivery #${request.index}`);
    return { request, ce: request.body as Record<string, unknown> };
  });
}

describe('CloudEvents, structured mode', { timeout: 30_000 }, () => {
  const h = useWithReceiver({ endpoint: { envelope: 'cloudevents', secret: SECRET } });
  resetBeforeEach(h);

  it('sends each event as one CloudEvent 1.0 whose data is the Distribution event, signed over the body sent', async () => {
    const image = await h.client.pushImage('ce/app', 'v1', ociImage({ layers: 1 }));
    await drained(h.registry);
    const delivered = structuredEvents(h.receiver.accepted());
    assert.equal(delivered.length, 3, 'config, layer and manifest pushes');
    for (const { request, ce } of delivered) {
      assert.deepEqual(Object.keys(ce).sort(), [...CE_ATTRIBUTES].sort(), `attributes of #${request.index}`);
      assert.equal(ce.datacontenttype, 'application/json');
      const event = ce.data as Event;
      assertValidEvent(event);
      assertAttributes(ce, event);
      assert.equal(event.action, 'push');
      assert.equal(request.headers['webhook-id'], event.id);
      assert.doesNotThrow(() => verify(SECRET, request.headers, request.raw), `delivery #${request.index} verifies`);
    }
    const manifest = delivered.map(({ ce }) => ce.data as Event).find((e) => e.target.mediaType === image.mediaType);
    assert.equal(manifest?.target.tag, 'v1');
  });

  it('is read by the CloudEvents SDK as the same event, pulls typed as such', async () => {
    const image = await h.client.pushImage('ce/pulled', 'v1');
    const pull = await h.client.fetch(`/v2/ce/pulled/manifests/v1`, { headers: { accept: image.mediaType } });
    assert.equal(pull.status, 200);
    await pull.arrayBuffer();
    await drained(h.registry);
    const requests = h.receiver.accepted();
    for (const r of requests) {
      const [ce] = sdkEvents(r);
      const body = r.body as Record<string, unknown>;
      assert.ok(ce, `the SDK found an event in #${r.index}`);
      assertAttributes(ce as unknown as Record<string, unknown>, body.data as Event);
      assert.deepEqual(ce.data, body.data, 'the SDK reads the Distribution event as data');
    }
    const types = requests.map((r) => sdkEvents(r)[0]!.type);
    assert.deepEqual(types.slice(-1), ['io.dockyard.registry.pull']);
  });
});

describe('CloudEvents, binary mode', { timeout: 30_000 }, () => {
  const h = useWithReceiver({
    endpoint: { envelope: 'cloudevents', cloudevents: { mode: 'binary' }, secret: SECRET },
    config: { storage: { delete: { enabled: true } } },
  });
  resetBeforeEach(h);

  it('sends the Distribution event as the body and its attributes as ce-* headers', async () => {
    const blob = randomBlob(64);
    assert.equal((await h.client.pushBlob('ce/binary', blob.data, blob.digest)).status, 201);
    assert.equal((await h.client.fetch(`/v2/ce/binary/blobs/${blob.digest}`, { method: 'DELETE' })).status, 202);
    await drained(h.registry);
    const requests = h.receiver.accepted();
    assert.equal(requests.length, 2);
    for (const r of requests) {
      assert.equal(r.headers['content-type'], 'application/json');
      const event = r.body as Event;
      assertValidEvent(event);
      assert.equal(r.raw, JSON.stringify(event), 'the body is the event itself, no envelope');
      const ce = Object.fromEntries(CE_ATTRIBUTES.slice(0, 6).map((a) => [a, r.headers[`ce-${a}`]]));
      assertAttributes(ce, event);
      assert.doesNotThrow(() => verify(SECRET, r.headers, r.raw));
      const [parsed] = sdkEvents(r);
      assert.equal(parsed!.id, event.id);
      assert.equal(parsed!.datacontenttype, 'application/json');
      assert.deepEqual(parsed!.data, event, 'the SDK reads the body as the data');
    }
    assert.deepEqual(requests.map((r) => r.headers['ce-type']), ['io.dockyard.registry.push', 'io.dockyard.registry.delete']);
  });
});

describe('CloudEvents, batched', { timeout: 30_000 }, () => {
  const h = useWithReceiver({
    endpoint: { envelope: 'cloudevents', batch: { maxevents: 3, maxwait: '300ms' }, secret: SECRET },
  });

  it('sends a JSON array of CloudEvents as application/cloudevents-batch+json, which the SDK reads as a batch', async () => {
    const blobs = [0, 1, 2].map((i) => randomBlob(40 + i));
    await Promise.all(
      blobs.map(async (b) => assert.equal((await h.client.pushBlob('ce/batched', b.data, b.digest)).status, 201)),
    );
    await drained(h.registry);
    const [r, ...more] = h.receiver.accepted();
    assert.equal(more.length, 0, 'one request');
    assert.equal(r!.headers['content-type'], 'application/cloudevents-batch+json');
    assert.ok(Array.isArray(r!.body));
    const batch = r!.body as Record<string, unknown>[];
    assert.equal(batch.length, 3);
    for (const ce of batch) {
      assertMatchesCloudEventSchema(ce, 'an item of the batch');
      assertValidEvent(ce.data as Event);
      assertAttributes(ce, ce.data as Event);
    }
    assert.deepEqual(new Set(batch.map((ce) => (ce.data as Event).target.digest)), new Set(blobs.map((b) => b.digest)));
    const parsed = sdkEvents(r!);
    assert.deepEqual(parsed.map((ce) => ce.id), batch.map((ce) => ce.id));
    assert.doesNotThrow(() => verify(SECRET, r!.headers, r!.raw), 'the batch is signed over the array sent');
  });
});

describe('the CloudEvents JSON Schema', () => {
  it('is committed as generated from the model, and refuses what is not a Dockyard CloudEvent', () => {
    assert.deepEqual(committedCloudEventSchema, cloudEventJsonSchema());
    const violations = jsonSchemaViolations(committedCloudEventSchema, { specversion: '0.3', id: 'x', type: 'io.dockyard.registry.sync', extra: 1 });
    assert.ok(violations.some((v) => v.includes('specversion')), violations.join('; '));
    assert.ok(violations.some((v) => v.includes('type')), violations.join('; '));
    assert.ok(violations.some((v) => v.includes('missing "data"')), violations.join('; '));
    assert.ok(violations.some((v) => v.includes('unexpected "extra"')), violations.join('; '));
  });
});

describe('CloudEvents configuration', () => {
  const endpoint = (extra: Record<string, unknown>) => ({
    notifications: { endpoints: [{ name: 'ce', url: 'http://127.0.0.1:9/hook', ...extra }] },
  });

  it('refuses binary mode with batching, saying why', () => {
    const message = configError(() =>
      parseConfig(endpoint({ envelope: 'cloudevents', cloudevents: { mode: 'binary' }, batch: { maxevents: 10 } })),
    );
    assert.match(message, /binary CloudEvents carry one event per request/);
    assert.match(message, /batch/);
  });

  it('refuses cloudevents options without envelope: cloudevents', () => {
    assert.match(configError(() => parseConfig(endpoint({ cloudevents: { mode: 'binary' } }))), /need envelope: cloudevents/);
  });

  it('takes binary mode unbatched, and structured mode batched', () => {
    const binary = parseConfig(endpoint({ envelope: 'cloudevents', cloudevents: { mode: 'binary' }, batch: { maxevents: 1 } }));
    assert.equal(binary.config.notifications.endpoints[0]!.cloudevents?.mode, 'binary');
    const structured = parseConfig(endpoint({ envelope: 'cloudevents', batch: { maxevents: 10 } }));
    assert.equal(structured.config.notifications.endpoints[0]!.envelope, 'cloudevents');
  });
});
