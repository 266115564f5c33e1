import type { Event } from '../event.ts';
import type { EventRange } from '../protocol.ts';
import type { AttemptRecord } from './outbox-client.ts';

/** One event queued for one endpoint. */
export interface QueuedEvent {
  seq: number;
  endpoint: string;
  event: Event;
  attempts: number;
  enqueuedAt: number;
}

export interface EndpointCounts {
  pending: number;
  delivered: number;
  dead: number;
}

export type DeadLetter = QueuedEvent & { error: string | null; status: number | null };

/**
 * What the delivery thread reads from the outbox, whichever holds it: the SQLite file
 * (outbox-reader.ts) or the shared PostgreSQL database (pg-reader.ts). Writes go through the
 * writer thread (outbox-client.ts), never through here.
 */
export interface OutboxReads {
  /** Pending events for an endpoint after `afterSeq`, oldest first. */
  next(endpoint: string, afterSeq: number, limit: number): Promise<QueuedEvent[]>;
  /** Endpoints switched off by a 410 Gone, with the reason. */
  disabledEndpoints(): Promise<Map<string, string | null>>;
  recentAttempts(endpoint: string, limit: number): Promise<AttemptRecord[]>;
  /** The last attempt's status, and since when attempts have failed (null when the last one succeeded). */
  health(endpoint: string): Promise<{ lastStatus: number | null; failingSince: number | null }>;
  /** Every endpoint with rows in the outbox, configured or not. */
  endpointsWithRows(): Promise<string[]>;
  counts(endpoint: string): Promise<EndpointCounts>;
  deadLetters(endpoint: string, limit: number): Promise<DeadLetter[]>;
  /** Retained events in the range, each once, oldest first. */
  events(range: EventRange, limit: number): Promise<Event[]>;
  close(): Promise<void>;
}

/** The columns of an events row that make a QueuedEvent (both stores name them alike). */
export interface EventRow {
  seq: number;
  payload: string;
  attempts: number;
  enqueued_at: number;
}

export function queued(endpoint: string, r: EventRow): QueuedEvent {
  return { seq: r.seq, endpoint, event: JSON.parse(r.payload) as Event, attempts: r.attempts, enqueuedAt: r.enqueued_at };
}

export interface AttemptRow {
  event_ids: string;
  at: number;
  status: number | null;
  latency_ms: number;
  error: string | null;
  response: string | null;
}

export function attemptRecord(endpoint: string, r: AttemptRow): AttemptRecord {
  return {
    endpoint,
    eventIds: JSON.parse(r.event_ids) as string[],
    at: r.at,
    status: r.status,
    latencyMs: r.latency_ms,
    error: r.error,
    response: r.response,
  };
}
