/**
 * The writes the outbox makes, as plain data: clients queue them and the writer thread
 * (outbox-writer.ts) applies each group in one transaction.
 */
/** One event queued for one endpoint, as it is stored. */
export interface QueuedRow {
  endpoint: string;
  eventId: string;
  payload: string;
}

export type OutboxOp =
  | ({ t: 'insert' } & QueuedRow)
  /** A change is about to be made (change-intent.ts); `record` is its IntentRecord as JSON. */
  | { t: 'intend'; id: string; at: number; record: string }
  /** The change's outcome is known: its events (maybe none) are queued and the intent goes, together. */
  | { t: 'confirm'; id: string; rows: QueuedRow[] }
  | { t: 'settle'; seqs: number[]; state: number; status: number | null; error: string | null; at: number }
  | { t: 'fail'; seqs: number[]; status: number | null; error: string }
  | {
      t: 'attempt';
      endpoint: string;
      eventIds: string;
      at: number;
      status: number | null;
      latencyMs: number;
      error: string | null;
      response: string | null;
    }
  | { t: 'redeliver'; endpoint: string; eventId: string }
  | { t: 'endpointState'; endpoint: string; disabled: boolean; reason: string | null }
  /** Starts upkeep (outbox-upkeep.ts); it runs after the commit, in small batches. */
  | { t: 'prune'; retentionMs: number; deadRetentionMs: number; removedEndpoints: string[]; keepAttempts: number }
  /** A tiny write that proves the outbox takes writes (readiness). */
  | { t: 'probe' }
  /** Nothing: waited for, it marks the point by which everything queued before is committed. */
  | { t: 'barrier' };

/** One group commit: the ops, and whether it must reach the disk before it is acknowledged. */
export interface WriteRequest {
  kind: 'write';
  id: number;
  ops: OutboxOp[];
  /** Events are being queued: fsync before answering. Bookkeeping alone may skip the fsync. */
  durable: boolean;
}

/** What the writer sends back to a client. */
export type WriterMessage =
  /** One entry per op: for `redeliver`, whether the event was found; otherwise null. */
  | { kind: 'reply'; id: number; results?: (boolean | null)[]; error?: string }
  /** New events were committed for these endpoints (told to delivery clients). */
  | { kind: 'committed'; endpoints: string[] }
  /** The writer opened the outbox and takes writes (to the main thread, once per incarnation). */
  | { kind: 'ready' };

/** From the main thread to the writer: the delivery thread's line (sent again after either restarts). */
export interface WriterControl {
  kind: 'delivery';
  port: import('node:worker_threads').MessagePort;
}

export const EventState = {
  Pending: 0,
  Delivered: 1,
  Dead: 2,
  /** A dead letter that a redelivery queued again. */
  Requeued: 3,
} as const;
