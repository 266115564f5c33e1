import assert from 'node:assert/strict';
import type { EndpointStatus } from '../../src/notify/admin.ts';
import { readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import * as path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { beforeEach } from 'node:test';
import { eventSchema, type Event, type EventTarget } from '../../src/notify/event.ts';
import { Client } from '../helpers/client.ts';
import { ok, WebhookReceiver, eventsOf, type Behaviour } from '../helpers/receiver.ts';
import { startTestRegistry, type RegistryHarness, type TestRegistry } from '../helpers/registry.ts';
import { suiteFixture } from '../helpers/suite-fixture.ts';
import { committedSchema, jsonSchemaViolations } from './json-schema.ts';

/** Shared pieces of the notification acceptance tests: a registry wired to a real receiver, and event checks. */

export const V1 = 'application/vnd.docker.distribution.events.v1+json';
export const V2 = 'application/vnd.docker.distribution.events.v2+json';
export const OCTET = 'application/octet-stream';
export const USER_AGENT = 'dockyard-notify-test/1.0';
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** A Client whose every request carries USER_AGENT, so `request.useragent` can be checked exactly. */
export class NotifyClient extends Client {
  override fetch(p: string, init: RequestInit = {}): Promise<Response> {
    const headers = new Headers(init.headers);
    if (!headers.has('user-agent')) headers.set('user-agent', USER_AGENT);
    return super.fetch(p, { ...init, headers });
  }
}

/** An endpoint config with fast retry settings, pointing at `receiver`. */
export function endpoint(receiver: WebhookReceiver, overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return { name: 'hook', url: receiver.url(), timeout: '500ms', backoff: '20ms', threshold: 2, maxbackoff: '100ms', ...overrides };
}

/** A registry, a client of it, and the receiver its one endpoint (`hook`) points at. */
export interface Harness extends RegistryHarness<NotifyClient> {
  readonly receiver: WebhookReceiver;
}

export interface StartedHarness extends Harness {
  stop(): Promise<void>;
}

export interface HarnessOptions {
  endpoint?: Record<string, unknown>;
  notifications?: Record<string, unknown>;
  config?: Record<string, unknown>;
  behaviour?: Behaviour;
}

/** A receiver plus a registry with one endpoint (`hook`) pointing at it. */
export async function startWithReceiver(opts: HarnessOptions = {}): Promise<StartedHarness> {
  const receiver = await WebhookReceiver.start(opts.behaviour ?? ok);
  let registry: TestRegistry;
  try {
    registry = await startTestRegistry({
      ...opts.config,
      notifications: { endpoints: [endpoint(receiver, opts.endpoint)], ...opts.notifications },
    });
  } catch (err) {
    await receiver.close();
    throw err;
  }
  return {
    registry,
    receiver,
    client: new NotifyClient(registry.url),
    async stop() {
      await receiver.close();
      await registry.stop();
    },
  };
}

/**
 * startWithReceiver for the describe block this is called in: started in a `before` hook, stopped
 * in an `after` hook (see suiteFixture). `opts` may be a function, called in the hook.
 */
export function useWithReceiver(opts: HarnessOptions | (() => HarnessOptions | Promise<HarnessOptions>) = {}): Harness {
  const started = suiteFixture(
    'the notification harness',
    async () => startWithReceiver(typeof opts === 'function' ? await opts() : opts),
    (h) => h.stop(),
  );
  return {
    get registry() {
      return started().registry;
    },
    get client() {
      return started().client;
    },
    get receiver() {
      return started().receiver;
    },
  };
}

/**
 * Before each test of the current describe block: the receiver back to `behaviour` (when given),
 * the endpoint's queue drained, and what the receiver got so far forgotten.
 */
export function resetBeforeEach(h: Harness, behaviour?: Behaviour): void {
  beforeEach(async () => {
    if (behaviour) h.receiver.behaviour = behaviour;
    await drained(h.registry);
    h.receiver.clear();
  });
}

/** GET an admin JSON resource; asserts the status. */
export async function adminJson<T>(registry: { url: string }, p: string, init: RequestInit = {}, status = 200): Promise<T> {
  const res = await fetch(new URL(p, registry.url), init);
  const text = await res.text();
  assert.equal(res.status, status, `${init.method ?? 'GET'} ${p}: ${text.slice(0, 300)}`);
  return (text ? JSON.parse(text) : undefined) as T;
}

/** One endpoint as GET /notifications/endpoints lists it. */
export type EndpointState = EndpointStatus;

export async function endpointState(registry: { url: string }, name = 'hook'): Promise<EndpointState> {
  const { endpoints } = await adminJson<{ endpoints: EndpointState[] }>(registry, '/notifications/endpoints');
  const found = endpoints.find((e) => e.name === name);
  assert.ok(found, `endpoint ${name} is not listed: ${JSON.stringify(endpoints)}`);
  return found;
}

/**
 * Waits until the endpoint's queue is empty: every event of an operation that already answered
 * has then been delivered (the receiver records a request before answering it).
 */
export async function drained(registry: { url: string }, name = 'hook', timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const state = await endpointState(registry, name);
    if (state.pending === 0) return;
    if (Date.now() > deadline) assert.fail(`endpoint ${name} still has ${state.pending} pending events after ${timeoutMs} ms`);
    await sleep(20);
  }
}

/** Everything the receiver got since it was last cleared, once the endpoint's queue is empty; envelopes checked. */
export async function received(h: Harness): Promise<Event[]> {
  await drained(h.registry);
  return assertEnvelopes(h.receiver);
}

/** Polls `check` until it returns true; fails with `what` after `timeoutMs`. */
export async function eventually(check: () => boolean | Promise<boolean>, what: string, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) assert.fail(`${what} (waited ${timeoutMs} ms)`);
    await sleep(20);
  }
}

/**
 * Every 2xx-answered request was a POST of `{"events":[...]}` with `mediaType`, and every event
 * in it matches the zod event schema with exactly Distribution's top-level keys.
 */
export function assertEnvelopes(receiver: WebhookReceiver, mediaType = V1): Event[] {
  const all: Event[] = [];
  for (const r of receiver.accepted()) {
    assert.equal(r.method, 'POST');
    assert.equal(r.headers['content-type'], mediaType, `content-type of delivery #${r.index}`);
    assert.ok(r.body !== undefined, `delivery #${r.index} is not JSON: ${r.raw.slice(0, 200)}`);
    assert.deepEqual(Object.keys(r.body as object), ['events'], `delivery #${r.index} envelope keys`);
    const violations = jsonSchemaViolations(committedSchema(), r.body);
    assert.deepEqual(violations, [], `delivery #${r.index} does not match schema/events.schema.json`);
    const events = eventsOf(r);
    assert.ok(events.length > 0, `delivery #${r.index} holds no events`);
    for (const e of events) assertValidEvent(e);
    all.push(...events);
  }
  return all;
}

/** The event matches the zod `eventSchema`, with exactly the top-level keys Distribution sends. */
export function assertValidEvent(e: Event): void {
  const parsed = eventSchema.safeParse(e);
  assert.ok(parsed.success, `event does not match eventSchema: ${parsed.error?.message}\n${JSON.stringify(e)}`);
  assert.deepEqual(Object.keys(e), ['id', 'timestamp', 'action', 'target', 'request', 'actor', 'source']);
  assert.match(e.id, UUID, 'event id');
  assert.ok(!Number.isNaN(Date.parse(e.timestamp)), `timestamp ${e.timestamp} is not RFC 3339`);
  assert.match(e.timestamp, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)$/);
}

/** The `request` record of an event caused by NotifyClient's `method` request to `registry`. */
export function assertRequest(e: Event, registry: { port: number }, method: string, useragent = USER_AGENT): void {
  assert.deepEqual(Object.keys(e.request), ['id', 'addr', 'host', 'method', 'useragent']);
  assert.match(e.request.id, UUID, 'request.id');
  assert.match(e.request.addr, /^127\.0\.0\.1:\d{1,5}$/, 'request.addr');
  assert.equal(e.request.host, `127.0.0.1:${registry.port}`, 'request.host');
  assert.equal(e.request.method, method, 'request.method');
  assert.equal(e.request.useragent, useragent, 'request.useragent');
  assert.deepEqual(e.actor, {}, 'actor of an anonymous request');
  assert.deepEqual(Object.keys(e.source), ['addr', 'instanceID']);
  assert.equal(e.source.addr, `${hostname()}:${registry.port}`, 'source.addr');
  assert.match(e.source.instanceID, UUID, 'source.instanceID');
}

// --- expected targets -------------------------------------------------------------------------

export function blobTarget(registry: { url: string }, repository: string, blob: { digest: string; data: Buffer }): EventTarget {
  return {
    mediaType: OCTET,
    size: blob.data.length,
    digest: blob.digest,
    length: blob.data.length,
    repository,
    url: `${registry.url}/v2/${repository}/blobs/${blob.digest}`,
  };
}

export function manifestTarget(
  registry: { url: string },
  repository: string,
  m: { digest: string; manifest: Buffer; mediaType: string },
  tag?: string,
): EventTarget {
  return {
    mediaType: m.mediaType,
    size: m.manifest.length,
    digest: m.digest,
    length: m.manifest.length,
    repository,
    url: `${registry.url}/v2/${repository}/manifests/${m.digest}`,
    ...(tag !== undefined ? { tag } : {}),
  };
}

// --- the golden Distribution 2.8.2 deliveries ------------------------------------------------

// Copies of the deliveries CNCF Distribution 2.8.2 really sent (shared/golden), kept with the tests.
const GOLDEN_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../fixtures/golden');
export type GoldenKind = 'push-blob' | 'push-manifest' | 'pull-blob' | 'pull-manifest' | 'mount-blob' | 'delete-blob' | 'delete-manifest' | 'delete-tag';

export function golden(kind: GoldenKind): Event {
  const file = path.join(GOLDEN_DIR, `distribution-${kind}.json`);
  const body = JSON.parse(readFileSync(file, 'utf8')) as { events: Event[] };
  assert.equal(body.events.length, 1, `${file} holds one event`);
  return body.events[0]!;
}

/**
 * `e` has the shape of Distribution's delivery of the same kind: the same top-level, request,
 * actor and source keys, and target keys equal to the golden ones (minus `without`, plus
 * `extra`), with the golden keys in the golden order.
 */
export function assertGoldenShape(e: Event, kind: GoldenKind, opts: { extra?: string[]; without?: string[] } = {}): void {
  const g = golden(kind);
  const where = `${kind} event shape vs. Distribution`;
  assert.deepEqual(Object.keys(e), Object.keys(g), `${where}: top-level keys`);
  assert.equal(e.action, g.action, `${where}: action`);
  assert.deepEqual(Object.keys(e.request), Object.keys(g.request), `${where}: request keys`);
  assert.deepEqual(Object.keys(e.source), Object.keys(g.source), `${where}: source keys`);
  assert.deepEqual(e.actor, g.actor, `${where}: actor`);
  const goldenKeys = Object.keys(g.target).filter((k) => !(opts.without ?? []).includes(k));
  const expected = [...goldenKeys, ...(opts.extra ?? [])].sort();
  assert.deepEqual(Object.keys(e.target).sort(), expected, `${where}: target keys`);
  assert.deepEqual(Object.keys(e.target).filter((k) => goldenKeys.includes(k)), goldenKeys, `${where}: target key order`);
  if (g.target.mediaType === OCTET) assert.equal(e.target.mediaType, OCTET, `${where}: blob media type`);
  if (g.target.references) {
    for (const r of e.target.references ?? []) assert.deepEqual(Object.keys(r), Object.keys(g.target.references[0]!), `${where}: reference keys`);
  }
}

/** Events minus their ids, timestamps and request ids, for comparing with what is expected. */
export function actions(events: Event[]): string[] {
  return events.map((e) => `${e.action} ${e.target.repository}${e.target.tag !== undefined ? `:${e.target.tag}` : ''}${e.target.digest ? `@${e.target.digest.slice(7, 19)}` : ''}`);
}
