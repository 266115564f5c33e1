import { parentPort, workerData } from 'node:worker_threads';
import { createLogger, type LogOptions } from '../../logger.ts';
import type { MetricUpdate } from '../metric-updates.ts';
import type { NotifyOptions } from '../options.ts';
import { OutboxClient } from '../outbox/outbox-client.ts';
import { OutboxReader } from '../outbox/outbox-reader.ts';
import { PgReader } from '../outbox/pg-reader.ts';
import { connectOutbox } from '../outbox/pg-schema.ts';
import { PgSigningKeyStore } from '../outbox/pg-signing-keys.ts';
import { resolveSigningKeys, SqliteSigningKeyStore } from '../outbox/signing-keys.ts';
import type { DeliveryCall, DeliveryMessage, DeliveryRequest } from '../protocol.ts';
import { storedEndpointNames } from '../runtime/runtime-wiring.ts';
import { DeliveryEngine } from './delivery-engine.ts';
import { LocalLeases, NoLeases, PgLeases } from './endpoint-leases.ts';

/**
 * The delivery thread's entry: builds the engine from the options it is handed, and
 * serves the main thread's calls. Metric changes are sent up in small batches. Supervised by
 * the main thread: a new incarnation starts from the outbox (every pending event, in order).
 * Its line to the writer arrives as a `writer` message, again whenever the writer restarted;
 * bookkeeping written meanwhile waits and goes to the new writer.
 */
const { options, log } = workerData as { options: NotifyOptions; log: LogOptions };
const port = parentPort!;
const send = (message: DeliveryMessage) => port.postMessage(message);

// Metric changes made in one turn of the event loop travel together, and always before the
// answer to a call, so what the operator reads next includes them.
let updates: MetricUpdate[] = [];
let flushScheduled = false;
const flushMetrics = () => {
  flushScheduled = false;
  if (updates.length === 0) return;
  send({ kind: 'metrics', updates });
  updates = [];
};
const report = (update: MetricUpdate) => {
  updates.push(update);
  if (!flushScheduled) {
    flushScheduled = true;
    setImmediate(flushMetrics);
  }
};

const writer = new OutboxClient(null, { whileDetached: 'queue', unavailable: (reason) => new Error(reason) });
const logger = createLogger(log).child({ thread: 'delivery' });
const engine = await openEngine();
await engine.start();

/**
 * On the embedded outbox this process delivers every endpoint; on the shared one, those it leases.
 * Ed25519 keys to generate are generated (or read back) in the outbox first: this thread signs.
 */
async function openEngine(): Promise<DeliveryEngine> {
  const pg = options.outbox.postgres;
  // Whichever thread of whichever replica connects first migrates the schema; this one waits for it.
  if (pg) await (await connectOutbox(pg, 'dockyard-delivery')).end();
  const endpoints = await resolveSigningKeys(options.endpoints, openKeyStore);
  // Stored runtime endpoints the main thread starts here next are not "removed" (warned of, pruned) meanwhile.
  const resolved = { ...options, endpoints, disabledEndpoints: [...options.disabledEndpoints, ...(await storedEndpointNames(options.outbox))] };
  const names = endpoints.map((e) => e.name);
  const reader = pg ? new PgReader(pg) : new OutboxReader(options.outbox.file);
  const leases = !options.deliver ? new NoLeases() : pg ? new PgLeases(pg, names, logger) : new LocalLeases();
  return new DeliveryEngine(resolved, writer, reader, leases, report, logger);
}

function openKeyStore() {
  const pg = options.outbox.postgres;
  return pg ? new PgSigningKeyStore(pg) : new SqliteSigningKeyStore(options.outbox.file);
}

async function call(c: DeliveryCall): Promise<unknown> {
  switch (c.method) {
    case 'status': return engine.status();
    case 'pending': return engine.pending();
    case 'deliveries': return engine.deliveries(...c.args);
    case 'deadLetters': return engine.deadLetters(...c.args);
    case 'redeliver': return engine.redeliver(...c.args);
    case 'replay': return engine.replay(...c.args);
    case 'events': return engine.events(...c.args);
    case 'enable': await engine.enable(...c.args); return null;
    case 'ping': return engine.ping(...c.args);
    case 'putEndpoint': await engine.put((await resolveSigningKeys(c.args, openKeyStore))[0]!); return null;
    case 'dropEndpoint': await engine.drop(...c.args); return null;
    case 'close':
      await engine.close();
      return null;
  }
}

port.on('message', (m: DeliveryRequest) => {
  if (m.kind === 'writer') {
    writer.attach(m.port);
    return;
  }
  call(m).then(
    (value) => {
      flushMetrics();
      send({ kind: 'result', id: m.id, value });
    },
    (err: unknown) => {
      flushMetrics();
      send({ kind: 'result', id: m.id, error: err instanceof Error ? err.message : String(err) });
    },
  );
});

send({ kind: 'ready' });
