import { parentPort, workerData, type MessagePort } from 'node:worker_threads';
import Database from 'better-sqlite3';
import { EventState, type OutboxOp, type WriteRequest, type WriterMessage } from './outbox-ops.ts';
import { OutboxSchema } from './outbox-schema.ts';

/**
 * The outbox's one writer, in its own thread: SQLite commits (and their fsync) happen here, so
 * neither the registry's event loop nor the delivery thread waits on the disk. Each client sends
 * one group at a time and gathers new writes meanwhile, so a burst costs one commit.
 */
const { file, delivery } = workerData as { file: string; delivery: MessagePort };
const db = new Database(file);
db.pragma('journal_mode = WAL');
db.pragma('busy_timeout = 5000');
const sql = new OutboxSchema(db);
const setFull = db.prepare('PRAGMA synchronous = FULL');
const setNormal = db.prepare('PRAGMA synchronous = NORMAL');
let durable: boolean | null = null;

function apply(op: OutboxOp, now: number): boolean | null {
  switch (op.t) {
    case 'insert':
      sql.insert.run(op.endpoint, op.eventId, op.payload, now);
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
    case 'endpointState':
      sql.setEndpointState.run(op.endpoint, op.disabled ? 1 : 0, op.reason);
      return null;
    case 'prune':
      sql.pruneDelivered.run(EventState.Delivered, EventState.Requeued, now - op.retentionMs);
      sql.pruneAttempts.run(op.keepAttempts);
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
    reply = { kind: 'reply', id: request.id, results: commit(request.ops) };
  } catch (err) {
    reply = { kind: 'reply', id: request.id, error: err instanceof Error ? err.message : String(err) };
  }
  port.postMessage(reply);
  if (reply.error === undefined) {
    const endpoints = new Set<string>();
    for (const op of request.ops) if (op.t === 'insert' || op.t === 'redeliver') endpoints.add(op.endpoint);
    if (endpoints.size > 0) delivery.postMessage({ kind: 'committed', endpoints: [...endpoints] } satisfies WriterMessage);
  }
}

parentPort!.on('message', (request: WriteRequest) => serve(parentPort!, request));
delivery.on('message', (request: WriteRequest) => serve(delivery, request));
