import { parentPort, workerData, type MessagePort } from 'node:worker_threads';
import type { NotificationsConfig } from '../config/notifications.ts';
import { createLogger } from '../logger.ts';
import { DeliveryEngine } from './delivery-engine.ts';
import type { DeliveryCall, DeliveryMessage } from './delivery-protocol.ts';
import type { Event } from './event.ts';
import type { MetricUpdate } from './metric-updates.ts';
import { OutboxClient } from './outbox-client.ts';
import { OutboxReader } from './outbox-reader.ts';

/**
 * The delivery thread's entry: builds the engine from the validated config it is handed, and
 * serves the main thread's calls. Metric changes are sent up in small batches.
 */
const { config, file, writer, logLevel } = workerData as {
  config: NotificationsConfig;
  file: string;
  writer: MessagePort;
  logLevel: string;
};
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

const engine = new DeliveryEngine(
  config,
  new OutboxClient(writer),
  new OutboxReader(file),
  report,
  createLogger(logLevel).child({ thread: 'delivery' }),
);

async function call(c: DeliveryCall): Promise<unknown> {
  const [name, arg] = c.args as [string, unknown];
  switch (c.method) {
    case 'status': return engine.status();
    case 'pending': return engine.pending();
    case 'deliveries': return engine.deliveries(name, arg as number);
    case 'deadLetters': return engine.deadLetters(name, arg as number);
    case 'redeliver': return engine.redeliver(name, arg as string);
    case 'enable': return engine.enable(name);
    case 'ping': return engine.ping(name, arg as Event);
    case 'close':
      await engine.close();
      writer.close();
      return null;
  }
}

send({ kind: 'ready' });

port.on('message', (c: DeliveryCall) => {
  call(c).then(
    (value) => {
      flushMetrics();
      send({ kind: 'result', id: c.id, value });
    },
    (err: unknown) => {
      flushMetrics();
      send({ kind: 'result', id: c.id, error: err instanceof Error ? err.message : String(err) });
    },
  );
});
