import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { connect, type NatsConnection } from 'nats';
import { parseConfig } from '../../src/config/load.ts';
import type { Event } from '../../src/notify/event.ts';
import type { AttemptRecord } from '../../src/notify/outbox/outbox-client.ts';
import { verify } from '../../src/notify/delivery/signing.ts';
import { configError } from '../helpers/config-error.ts';
import { Client } from '../helpers/client.ts';
import { ociImage, type ImageFixture } from '../helpers/oci.ts';
import { startTestRegistry, type TestRegistry } from '../helpers/registry.ts';
import { adminJson, assertValidEvent, drained, endpointState, eventually, V1 } from './support.ts';

const NATS_SERVER = '/usr/sbin/nats-server';
const STREAM = 'REGISTRY_EVENTS';
const SUBJECT = 'registry.events';
const SECRET = `whsec_${Buffer.from('jetstream test secret, 32 bytes!').toString('base64')}`;

/** A real nats-server with JetStream on a loopback port, its store in a directory that outlives a restart. */
class NatsServer {
  private child: ChildProcess | null = null;

  private constructor(
    readonly port: number,
    readonly storeDir: string,
  ) {}

  static async start(): Promise<NatsServer> {
    const server = new NatsServer(await freePort(), await mkdtemp(path.join(tmpdir(), 'dockyard-nats-')));
    await server.restart();
    return server;
  }

  get url(): string {
    return `nats://127.0.0.1:${this.port}`;
  }

  /** Starts the server (again) on the same port and store; resolves once it is ready for clients. */
  async restart(): Promise<void> {
    const child = spawn(NATS_SERVER, ['-a', '127.0.0.1', '-p', String(this.port), '-js', '-sd', this.storeDir], {
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    this.child = child;
    let log = '';
    child.stderr!.setEncoding('utf8');
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`nats-server did not start: ${log}`)), 10_000);
      child.on('exit', (code) => (clearTimeout(timer), reject(new Error(`nats-server exited with ${code}: ${log}`))));
      child.stderr!.on('data', (text: string) => {
        log += text;
        if (log.includes('Server is ready')) (clearTimeout(timer), resolve());
      });
    });
  }

  async stop(): Promise<void> {
    const child = this.child;
    this.child = null;
    if (!child || child.exitCode !== null || child.pid === undefined) return;
    const exited = once(child, 'exit');
    process.kill(child.pid, 'SIGTERM');
    await exited;
  }

  async remove(): Promise<void> {
    await this.stop();
    await rm(this.storeDir, { recursive: true, force: true });
  }
}

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** One message of the stream as a consumer sees it. */
interface StreamMessage {
  seq: number;
  msgId: string | undefined;
  headers: Record<string, string>;
  body: string;
  event: Event;
}

/** Every message in the stream, by sequence. */
async function streamMessages(nc: NatsConnection, stream = STREAM): Promise<StreamMessage[]> {
  const jsm = await nc.jetstreamManager();
  const { state } = await jsm.streams.info(stream);
  const out: StreamMessage[] = [];
  for (let seq = state.first_seq; seq <= state.last_seq && state.messages > 0; seq++) {
    const m = await jsm.streams.getMessage(stream, { seq });
    const headers: Record<string, string> = {};
    for (const key of m.header.keys()) headers[key.toLowerCase()] = m.header.get(key);
    const body = m.string();
    const envelope = JSON.parse(body) as { events: Event[] };
    assert.equal(envelope.events.length, 1, `message ${seq} holds one event`);
    out.push({ seq, msgId: m.header.get('Nats-Msg-Id') || undefined, headers, body, event: envelope.events[0]! });
  }
  return out;
}

/**
 * `read` once this test's own connection is back after a server restart. The registry can deliver
 * its backlog within 60 ms of the restart, before this client's reconnect loop (100 ms apart) has
 * found the server; a request made meanwhile can time out (seen: drained 56 ms after the restart,
 * reconnected 105 ms after it) or fail with DISCONNECT when the old socket's end reaches the client
 * while it waits (seen in CI once delivery got faster). Bounded: five tries, each within nats.js's
 * 5 s request timeout, 200 ms apart.
 */
async function afterReconnect<T>(nc: NatsConnection, read: () => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      await nc.flush();
      return await read();
    } catch (err) {
      const code = (err as { code?: unknown }).code;
      if (attempt >= 5 || (code !== 'TIMEOUT' && code !== 'DISCONNECT')) throw err;
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
  }
}

async function deliveries(registry: TestRegistry, name = 'stream'): Promise<AttemptRecord[]> {
  const { deliveries } = await adminJson<{ deliveries: AttemptRecord[] }>(registry, `/notifications/endpoints/${name}/deliveries?limit=1000`);
  return deliveries;
}

/** The digests an image push emits events for, in push order. */
const pushOrder = (image: ImageFixture) => [image.config.digest, ...image.layers.map((l) => l.digest), image.digest];

describe('a NATS JetStream endpoint', { timeout: 60_000 }, () => {
  let nats: NatsServer;
  let registry: TestRegistry;
  let client: Client;
  let consumer: NatsConnection;

  before(async () => {
    nats = await NatsServer.start();
    registry = await startTestRegistry({
      notifications: {
        endpoints: [
          {
            name: 'stream',
            url: nats.url,
            jetstream: { stream: STREAM, subject: SUBJECT },
            headers: { 'X-Registry': 'dockyard-test' },
            secret: SECRET,
            timeout: '500ms',
            backoff: '50ms',
            threshold: 2,
            maxbackoff: '200ms',
          },
          {
            // Batched: still one message per event, in order, each acknowledged.
            name: 'batched',
            url: nats.url,
            jetstream: { stream: 'BATCHED', subject: 'registry.batched', duplicatewindow: '10m' },
            batch: { maxevents: 10, maxwait: '100ms' },
            timeout: '500ms',
          },
          {
            // A stream the operator made for something else: never changed, every attempt refused.
            name: 'foreign',
            url: nats.url,
            jetstream: { stream: 'FOREIGN', subject: 'registry.foreign' },
            repositories: { include: ['nothing-matches-this/*'] },
            timeout: '500ms',
          },
        ],
      },
    });
    client = new Client(registry.url);
    consumer = await connect({ servers: `127.0.0.1:${nats.port}`, maxReconnectAttempts: -1, reconnectTimeWait: 100 });
  });

  after(async () => {
    await consumer?.close();
    await registry?.stop();
    await nats?.remove();
  });

  it('creates the stream and publishes every push event once, Nats-Msg-Id = event id, signed, after the PubAck', async () => {
    const image = await client.pushImage('js/app', 'v1');
    await drained(registry, 'stream');
    const messages = await streamMessages(consumer);
    assert.deepEqual(messages.map((m) => m.event.target.digest), pushOrder(image), 'one message per event, in push order');
    assert.equal(new Set(messages.map((m) => m.event.id)).size, messages.length, 'each event once');
    for (const m of messages) {
      assertValidEvent(m.event);
      assert.equal(m.msgId, m.event.id, `Nats-Msg-Id of message ${m.seq}`);
      assert.equal(m.headers['content-type'], V1);
      assert.equal(m.headers['x-registry'], 'dockyard-test');
      assert.equal(m.headers['webhook-id'], m.event.id);
      verify(SECRET, m.headers, m.body); // throws unless the signature matches the body
    }
    const jsm = await consumer.jetstreamManager();
    const created = (await jsm.streams.info(STREAM)).config;
    assert.deepEqual(created.subjects, [SUBJECT]);
    assert.equal(created.duplicate_window, 3_600 * 1e9, 'an hour of duplicate window by default (nanoseconds)');
    // The batched endpoint creates its stream on its first delivery: waited for before it is read.
    await drained(registry, 'batched');
    assert.equal((await jsm.streams.info('BATCHED')).config.duplicate_window, 600 * 1e9, 'the configured duplicatewindow');
    const batched = await streamMessages(consumer, 'BATCHED');
    assert.deepEqual(batched.map((m) => m.event.id), messages.map((m) => m.event.id), 'a batch is published event by event, in order');
    assert.deepEqual(batched.map((m) => m.msgId), messages.map((m) => m.event.id));
    // The delivery log: one acknowledged attempt per event, with the PubAck's stream and sequence.
    const log = await deliveries(registry);
    for (const m of messages) {
      const attempt = log.find((a) => a.eventIds.length === 1 && a.eventIds[0] === m.event.id);
      assert.ok(attempt, `no attempt logged for ${m.event.id}`);
      assert.equal(attempt.status, 200);
      assert.deepEqual(JSON.parse(attempt.response ?? 'null'), { stream: STREAM, seq: m.seq, duplicate: false });
    }
  });

  it('adds no copy to the stream when an event is redelivered: JetStream drops it as a duplicate', async () => {
    await client.pushImage('js/again', 'v1');
    await drained(registry, 'stream');
    const before = await streamMessages(consumer);
    const target = before.at(-1)!;
    await adminJson(registry, `/notifications/endpoints/stream/deliveries/${target.event.id}/redeliver`, { method: 'POST' }, 202);
    let duplicate: AttemptRecord | undefined;
    await eventually(async () => {
      duplicate = (await deliveries(registry)).find((a) => a.eventIds[0] === target.event.id && a.status === 208);
      return duplicate !== undefined;
    }, 'the redelivery was acknowledged as a duplicate');
    assert.deepEqual(JSON.parse(duplicate!.response ?? 'null'), { stream: STREAM, seq: target.seq, duplicate: true });
    await drained(registry, 'stream');
    const afterwards = await streamMessages(consumer);
    assert.deepEqual(afterwards.map((m) => m.event.id), before.map((m) => m.event.id), 'the stream gained nothing');
  });

  it('fails attempts while the server is down, logs them, and delivers everything in order once it is back', async () => {
    const before = await streamMessages(consumer);
    await nats.stop();
    const image = await client.pushImage('js/outage', 'v1', ociImage({ layers: 3 }));
    await eventually(async () => (await deliveries(registry)).filter((a) => a.status === null).length >= 3, 'failed attempts in the delivery log', 10_000);
    const failed = (await deliveries(registry)).filter((a) => a.status === null);
    for (const a of failed) assert.ok(a.error && a.error.length > 0, `a failed attempt says why: ${JSON.stringify(a)}`);
    assert.equal((await endpointState(registry, 'stream')).pending, pushOrder(image).length, 'nothing counted as delivered');
    assert.equal((await endpointState(registry, 'stream')).lastStatus, null);

    await nats.restart();
    await drained(registry, 'stream', 15_000);
    const afterwards = await afterReconnect(consumer, () => streamMessages(consumer));
    assert.deepEqual(afterwards.slice(0, before.length).map((m) => m.event.id), before.map((m) => m.event.id), 'the store kept the stream');
    const added = afterwards.slice(before.length);
    assert.deepEqual(added.map((m) => m.event.target.digest), pushOrder(image), 'each event once, in push order');
    for (const m of added) assert.equal(m.msgId, m.event.id);
    assert.ok(failed.some((a) => a.eventIds[0] === added[0]!.event.id), 'the first event is the one that was failing');
  });

  it('does not change an existing stream that lacks the subject, and says so in each attempt', async () => {
    const jsm = await consumer.jetstreamManager();
    await jsm.streams.add({ name: 'FOREIGN', subjects: ['elsewhere.>'] });
    const ping = await adminJson<{ status: number | null; error: string | null }>(registry, '/notifications/endpoints/foreign/ping', { method: 'POST' });
    assert.equal(ping.status, null);
    assert.match(ping.error ?? '', /stream FOREIGN exists with subjects \["elsewhere\.>"\], which do not include registry\.foreign/);
    assert.deepEqual((await jsm.streams.info('FOREIGN')).config.subjects, ['elsewhere.>'], 'the stream is as it was');
    assert.equal((await jsm.streams.info('FOREIGN')).state.messages, 0);
  });
});

describe('JetStream endpoint configuration', () => {
  const withEndpoint = (endpoint: Record<string, unknown>) => () =>
    parseConfig({ storage: { filesystem: { rootdirectory: tmpdir() } }, notifications: { endpoints: [{ name: 'stream', ...endpoint }] } });

  it('maps a nats:// url with a jetstream block to the endpoint options', () => {
    const { config } = withEndpoint({ url: 'nats://nats:4222', jetstream: { stream: STREAM, subject: SUBJECT } })();
    assert.deepEqual(config.notifications.endpoints[0]?.jetstream, { stream: STREAM, subject: SUBJECT, duplicatewindow: 3_600_000 });
  });

  it('refuses a nats:// url without a jetstream block', () => {
    assert.match(configError(withEndpoint({ url: 'nats://nats:4222' })), /endpoints\.0\.jetstream": a nats:\/\/ url needs a jetstream block/);
  });

  it('refuses a jetstream block on an http url', () => {
    const message = configError(withEndpoint({ url: 'http://receiver/events', jetstream: { stream: STREAM, subject: SUBJECT } }));
    assert.match(message, /endpoints\.0\.url": an endpoint with a jetstream block needs a nats:\/\/ or tls:\/\/ url/);
  });

  it('refuses a wildcard subject and a stream name with a dot', () => {
    const message = configError(withEndpoint({ url: 'nats://nats:4222', jetstream: { stream: 'A.B', subject: 'registry.*' } }));
    assert.match(message, /jetstream\.stream must be/);
    assert.match(message, /jetstream\.subject must be/);
  });
});
