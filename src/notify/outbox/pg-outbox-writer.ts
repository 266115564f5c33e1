import { parentPort, workerData, type MessagePort } from 'node:worker_threads';
import type { PostgresOutboxOptions } from '../options.ts';
import type { WriteRequest, WriterControl, WriterMessage } from '../protocol.ts';
import { threadFailpoint } from '../threads/thread-failpoint.ts';
import { connectOutbox } from './pg-schema.ts';
import { PgUpkeep } from './pg-upkeep.ts';
import { endpointsToWake, PgWrites } from './pg-writes.ts';

/**
 * The shared outbox's writer thread: outbox-writer.ts's protocol, on PostgreSQL. Groups from
 * every client (the registry's thread, the delivery thread) are committed one at a time on one
 * connection, in arrival order. A lost connection ends the thread: the supervisor starts it again,
 * and whoever waited gets a 503 meanwhile, as when the SQLite writer dies.
 */
const { postgres, owner } = workerData as { postgres: PostgresOutboxOptions; owner: string };
const client = await connectOutbox(postgres, 'dockyard-outbox-writer');
const upkeepClient = await connectOutbox(postgres, 'dockyard-outbox-upkeep');
const die = (err: unknown) => {
  throw err instanceof Error ? err : new Error(String(err)); // uncaught: the thread ends, the supervisor restarts it
};
client.on('error', die);
upkeepClient.on('error', die);
const writes = new PgWrites(client, owner);
const upkeep = new PgUpkeep(upkeepClient, (err) => console.error('outbox upkeep failed', err));
let delivery: MessagePort | null = null;
let queue: Promise<void> = Promise.resolve();

async function serve(port: { postMessage(message: WriterMessage): void }, request: WriteRequest): Promise<void> {
  let reply: WriterMessage;
  try {
    threadFailpoint('outbox.writer.commit'); // dies before the group is committed
    const results = await writes.commit(request.ops, request.durable);
    threadFailpoint('outbox.writer.committed'); // dies after the commit, before the answer
    reply = { kind: 'reply', id: request.id, results };
  } catch (err) {
    reply = { kind: 'reply', id: request.id, error: err instanceof Error ? err.message : String(err) };
  }
  port.postMessage(reply);
  if (reply.error !== undefined) return;
  for (const op of request.ops) if (op.t === 'prune') upkeep.request(op);
  // This replica's delivery thread hears of it at once; the others by NOTIFY (endpoint-leases.ts).
  const endpoints = endpointsToWake(request.ops);
  if (endpoints.length > 0) delivery?.postMessage({ kind: 'committed', endpoints } satisfies WriterMessage);
}

/** One transaction at a time, in arrival order, whichever client sent it. */
function enqueue(port: { postMessage(message: WriterMessage): void }, request: WriteRequest): void {
  queue = queue.then(() => serve(port, request));
}

const main = parentPort!;
main.on('message', (message: WriteRequest | WriterControl) => {
  if (message.kind === 'write') {
    enqueue(main, message);
    return;
  }
  delivery?.close();
  const port = message.port;
  delivery = port;
  port.on('message', (request: WriteRequest) => enqueue(port, request));
});
main.postMessage({ kind: 'ready' } satisfies WriterMessage);
