/**
 * Everything that crosses a thread, in one place. Three threads in one process:
 *
 *         main thread: events/, threads/, outbox-client, delivery-client
 *                   |   ^                                       |   ^
 *   DeliveryRequest |   | DeliveryMessage          WriteRequest |   | WriterMessage
 *                   v   |                         WriterControl v   |
 *              delivery thread    over a MessagePort:   outbox writer thread  --->  outbox.sqlite
 *                (delivery/)      WriteRequest ---->          (outbox/)
 *                                 <--- WriterMessage
 *
 *   main     -> writer    WriteRequest     intents, events, probes, barriers; one group per commit
 *   main     -> writer    WriterControl    the delivery thread's port (again after either restarts)
 *   writer   -> main      WriterMessage    'ready' once per incarnation, a 'reply' per request
 *   main     -> delivery  DeliveryRequest  the operator's calls, metrics, close; the writer's port
 *   delivery -> main      DeliveryMessage  'result' per call, 'metrics' as they change, 'ready'
 *   delivery -> writer    WriteRequest     settle, fail, attempt, redeliver, endpointState, prune
 *   writer   -> delivery  WriterMessage    'reply', and 'committed': new events for these endpoints
 *
 * Types only: every message is plain, structured-clone-able data.
 */
import type { MessagePort } from 'node:worker_threads';
import type { EndpointStatus } from './admin.ts';
import type { EndpointOptions } from './options.ts';
import type { AttemptOutcome } from './delivery/http-sink.ts';
import type { Event } from './event.ts';
import type { MetricUpdate } from './metric-updates.ts';
import type { AttemptRecord } from './outbox/outbox-client.ts';
import type { QueuedEvent } from './outbox/outbox-reads.ts';

// --- main and delivery <-> outbox writer: the writes the outbox makes, as plain data; clients
// queue them and the writer thread (outbox/outbox-writer.ts) applies each group in one transaction.

/** One event queued for one endpoint, as it is stored. */
export interface QueuedRow {
  endpoint: string;
  eventId: string;
  payload: string;
}

export type OutboxOp =
  | ({ t: 'insert' } & QueuedRow)
  /** A change is about to be made (events/change-intent.ts); `record` is its IntentRecord as JSON. */
  | { t: 'intend'; id: string; at: number; record: string; durable: boolean }
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
  /** Queues again, once each and in their order, the endpoint's retained events of a range (result: how many). */
  | ({ t: 'replay'; endpoint: string } & EventRange)
  | { t: 'endpointState'; endpoint: string; disabled: boolean; reason: string | null }
  /** Starts upkeep (outbox/outbox-upkeep.ts); it runs after the commit, in small batches. */
  | { t: 'prune'; retentionMs: number; deadRetentionMs: number; removedEndpoints: string[]; keepAttempts: number }
  /** A tiny write that proves the outbox takes writes (readiness). */
  | { t: 'probe' }
  /** Nothing: waited for, it marks the point by which everything queued before is committed. */
  | { t: 'barrier' };

/** What an op answers: redeliver whether it found the event, replay how many it queued; the rest null. */
export type OpResult = boolean | number | null;

/**
 * Retained events by when they happened (the event's own timestamp, ISO 8601, from inclusive to
 * exclusive) and, optionally, repository and action.
 */
export interface EventRange {
  since: string;
  until: string;
  repository: string | null;
  action: string | null;
}

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
  | { kind: 'reply'; id: number; results?: OpResult[]; error?: string }
  /** New events were committed for these endpoints (told to delivery clients). */
  | { kind: 'committed'; endpoints: string[] }
  /** The writer opened the outbox and takes writes (to the main thread, once per incarnation). */
  | { kind: 'ready' };

/** From the main thread to the writer: the delivery thread's line (sent again after either restarts). */
export interface WriterControl {
  kind: 'delivery';
  port: MessagePort;
}

/** An outbox row's `state` (the one runtime value in this file). */
export const EventState = {
  Pending: 0,
  Delivered: 1,
  Dead: 2,
  /** A dead letter that a redelivery queued again. */
  Requeued: 3,
} as const;

// --- main <-> delivery ---

/** What the main thread may ask the delivery thread (the operator API, metrics, shutdown). */
export interface DeliveryMethods {
  status(): EndpointStatus[];
  pending(): Record<string, number>;
  deliveries(name: string, limit: number): AttemptRecord[];
  deadLetters(name: string, limit: number): (QueuedEvent & { error: string | null; status: number | null })[];
  redeliver(name: string, eventId: string): boolean;
  replay(name: string, range: EventRange): number;
  events(range: EventRange, limit: number): Event[];
  enable(name: string): null;
  ping(name: string, event: Event): AttemptOutcome;
  /** A runtime endpoint was created or changed: (re)start its worker with these options. */
  putEndpoint(endpoint: EndpointOptions): null;
  /** A runtime endpoint was removed: stop its worker (its rows are the main thread's to purge). */
  dropEndpoint(name: string): null;
  close(): null;
}

export type DeliveryMethod = keyof DeliveryMethods;

/** One call, typed by its method: `{ method: 'deliveries', args: [name, limit] }`. */
export type DeliveryCall = {
  [M in DeliveryMethod]: { kind: 'call'; id: number; method: M; args: Parameters<DeliveryMethods[M]> };
}[DeliveryMethod];

/** From the main thread: a call, or the writer thread's line (again, after either thread restarted). */
export type DeliveryRequest = DeliveryCall | { kind: 'writer'; port: MessagePort };

/** What the delivery thread sends back: results of calls, and metric changes as they happen. */
export type DeliveryMessage =
  | { kind: 'result'; id: number; value?: unknown; error?: string }
  | { kind: 'metrics'; updates: MetricUpdate[] }
  /** The engine is built and delivering. */
  | { kind: 'ready' };
