import { parentPort, workerData, type MessagePort } from 'node:worker_threads';
import type pg from 'pg';
import { createLogger, type LogOptions } from '../../logger.ts';
import type { PostgresOutboxOptions } from '../options.ts';
import type { WriteRequest, WriterControl, WriterMessage } from '../protocol.ts';
import { threadFailpoint } from '../threads/thread-failpoint.ts';
import { connectOutbox } from './pg-schema.ts';
import { PgUpkeep } from './pg-upkeep.ts';
import { endpointsToWake, PgWrites } from './pg-writes.ts';

/**
 * The shared outbox's writer thread: outbox-writer.ts's protocol, on PostgreSQL. Each client (the
 * registry's thread, the delivery thread) has a connection of its own, and its groups are
 * committed there one at a time, in arrival order: the delivery's bookkeeping (acknowledgements,
 * attempt records) never queues in front of a request's commit, as a round trip to the server
 * costs far more than an SQLite commit does. A lost connection ends the thread: the supervisor
 * starts it again, and whoever waited gets a 503 meanwhile, as when the SQLite writer dies.
 */
const { postgres, owner, log } = workerData as { postgres: PostgresOutboxOptions; owner: string; log: LogOptions };
const logger = createLogger(log).child({ thread: 'outbox-writer' });
const die = (err: unknown) => {
  throw err instanceof Error ? err : new Error(String(err)); // uncaught: the thread ends, the supervisor restarts it
};
const [requestsClient, bookkeepingClient, upkeepClient] = await Promise.all(
  ['dockyard-outbox-writer', 'dockyard-outbox-bookkeeping', 'dockyard-outbox-upkeep'].map((name) => connectOutbox(postgres, name)),
);
for (const c of [requestsClient, bookkeepingClient, upkeepClient]) c!.on('error', die);
const upkeep = new PgUpkeep(upkeepClient!, (err) => logger.error({ err }, 'outbox upkeep failed'));
let delivery: MessagePort | null = null;

/** One client's line: its connection, and its groups one at a time in arrival order. */
class Line {
  private queue: Promise<void> = Promise.resolve();
  private readonly writes: PgWrites;

  constructor(client: pg.ClientBase) {
    this.writes = new PgWrites(client, owner);
  }

  enqueue(port: { postMessage(message: WriterMessage): void }, request: WriteRequest): void {
    this.queue = this.queue.then(() => serve(this.writes, port, request));
  }
}
const requests = new Line(requestsClient!);
const bookkeeping = new Line(bookkeepingClient!);

async function serve(writes: PgWrites, port: { postMessage(message: WriterMessage): void }, request: WriteRequest): Promise<void> {
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

const main = parentPort!;
main.on('message', (message: WriteRequest | WriterControl) => {
  if (message.kind === 'write') {
    requests.enqueue(main, message);
    return;
  }
  delivery?.close();
  const port = message.port;
  delivery = port;
  port.on('message', (request: WriteRequest) => bookkeeping.enqueue(port, request));
});
main.postMessage({ kind: 'ready' } satisfies WriterMessage);
