import { parentPort, workerData, type MessagePort } from 'node:worker_threads';
import Database from 'better-sqlite3';
import { EventState, type OpResult, type OutboxOp, type WriteRequest, type WriterControl, type WriterMessage } from '../protocol.ts';
import { threadFailpoint } from '../threads/thread-failpoint.ts';
import { EventRangeSql } from './event-range.ts';
import { OutboxSchema } from './outbox-schema.ts';
import { OutboxUpkeep } from './outbox-upkeep.ts';

/**
 * The outbox's one writer, in its own thread: SQLite commits (and their fsync) happen here, so
 * neither the registry's event loop nor the delivery thread waits on the disk. Each client sends
 * one group at a time and gathers new writes meanwhile, so a burst costs one commit. Supervised
 * by the main thread (threads/supervisor.ts): if it dies, it is started again on the same file,
 * and the delivery thread's line to it is handed over again (a `delivery` control message). What
 * it receives and answers is in protocol.ts.
 */
const { file } = workerData as { file: string };
const db = new Database(file);
db.pragma('journal_mode = WAL');
db.pragma('busy_timeout = 5000');
const sql = new OutboxSchema(db);
const setFull = db.prepare('PRAGMA synchronous = FULL');
const setNormal = db.prepare('PRAGMA synchronous = NORMAL');
let durable: boolean | null = null;
let delivery: MessagePort | null = null;
const upkeep = new OutboxUpkeep(sql);
const ranges = new EventRangeSql(db);

function apply(op: OutboxOp, now: number): OpResult {
  switch (op.t) {
    case 'insert':
      sql.insert.run(op.endpoint, op.eventId, op.payload, now);
      return null;
    case 'intend':
      sql.intend.run(op.id, op.at, op.record);
      return null;
    case 'confirm':
      for (const row of op.rows) sql.insert.run(row.endpoint, row.eventId, row.payload, now);
      sql.forget.run(op.id);
      return null;
    case 'settle':
      for (const seq of op.seqs) sql.settle.run(op.state, op.at, op.status, op.error, seq);
      return null;
    case 'fail':
      for (const seq of op.seqs) sql.fail.run(op.status, op.error, seq);
      return null;
    case 'attempt':
      sql.attempt.run(op.endpoint, op.eventIds, op.at, op.status, op.latencyMs, op.error, op.response);
      return null;
    case 'redeliver': {
      const row = sql.byEventId.get(op.endpoint, op.eventId) as { seq: number; payload: string; state: number } | undefined;
      if (!row) return false;
      if (row.state === EventState.Dead) sql.settle.run(EventState.Requeued, now, null, 'requeued by redelivery', row.seq);
      sql.insert.run(op.endpoint, op.eventId, row.payload, now);
      return true;
    }
    case 'replay':
      return ranges.replay(op.endpoint, op, now);
    case 'endpointState':
      sql.setEndpointState.run(op.endpoint, op.disabled ? 1 : 0, op.reason);
      return null;
    case 'prune':
      upkeep.request(op); // after this commit, in small batches between the next ones
      return null;
    case 'probe':
      sql.probe.run(now);
      return null;
    case 'barrier':
      return null;
  }
}

const commit = db.transaction((ops: OutboxOp[]) => {
  const now = Date.now();
  return ops.map((op) => apply(op, now));
});

function serve(port: { postMessage(message: WriterMessage): void }, request: WriteRequest): void {
  let reply: WriterMessage;
  try {
    // Queued events must survive a power cut (FULL: fsync); acknowledgements and attempt
    // records may lag a crash (NORMAL: still safe from a process kill), since losing one only
    // means a redelivery or a retry.
    if (durable !== request.durable) {
      (request.durable ? setFull : setNormal).run();
      durable = request.durable;
    }
    threadFailpoint('outbox.writer.commit'); // dies before the group is committed
    const results = commit(request.ops);
    threadFailpoint('outbox.writer.committed'); // dies after the commit, before the answer
    reply = { kind: 'reply', id: request.id, results };
  } catch (err) {
    reply = { kind: 'reply', id: request.id, error: err instanceof Error ? err.message : String(err) };
  }
  port.postMessage(reply);
  if (reply.error === undefined) {
    const endpoints = new Set<string>();
    for (const op of request.ops) {
      if (op.t === 'insert' || op.t === 'redeliver' || op.t === 'replay') endpoints.add(op.endpoint);
      else if (op.t === 'confirm') for (const row of op.rows) endpoints.add(row.endpoint);
    }
    if (endpoints.size > 0) delivery?.postMessage({ kind: 'committed', endpoints: [...endpoints] } satisfies WriterMessage);
  }
}

const main = parentPort!;
main.on('message', (message: WriteRequest | WriterControl) => {
  if (message.kind === 'write') {
    serve(main, message);
    return;
  }
  delivery?.close();
  const port = message.port;
  delivery = port;
  port.on('message', (request: WriteRequest) => serve(port, request));
});
main.postMessage({ kind: 'ready' } satisfies WriterMessage);
