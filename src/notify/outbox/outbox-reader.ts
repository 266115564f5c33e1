import Database from 'better-sqlite3';
import type { Event } from '../event.ts';
import type { IntentRecord } from '../events/change-intent.ts';
import { EventState } from '../protocol.ts';
import type { AttemptRecord } from './outbox-client.ts';
import { OutboxSchema } from './outbox-schema.ts';

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

/** The columns of an `events` row that make a QueuedEvent. */
interface EventRow {
  seq: number;
  payload: string;
  attempts: number;
  enqueued_at: number;
}

function queued(endpoint: string, r: EventRow): QueuedEvent {
  return { seq: r.seq, endpoint, event: JSON.parse(r.payload) as Event, attempts: r.attempts, enqueuedAt: r.enqueued_at };
}

/**
 * Creates the outbox file and its tables (or migrates an older one), before any thread opens it.
 * Returns the intents a crash left unconfirmed, oldest first, for start-up to reconcile.
 */
export function createOutbox(file: string): IntentRecord[] {
  const db = new Database(file);
  try {
    db.pragma('journal_mode = WAL');
    const sql = new OutboxSchema(db);
    return (sql.intents.all() as { record: string }[]).map((r) => JSON.parse(r.record) as IntentRecord);
  } finally {
    db.close();
  }
}

/** Reads the outbox on a connection of its own (WAL: readers never block the writer). */
export class OutboxReader {
  private readonly db: Database.Database;
  private readonly sql: OutboxSchema;

  constructor(file: string) {
    this.db = new Database(file);
    this.db.pragma('busy_timeout = 5000');
    this.sql = new OutboxSchema(this.db);
  }

  /** Pending events for an endpoint after `afterSeq`, oldest first. */
  next(endpoint: string, afterSeq: number, limit: number): QueuedEvent[] {
    const rows = this.sql.next.all(endpoint, EventState.Pending, afterSeq, limit) as EventRow[];
    return rows.map((r) => queued(endpoint, r));
  }

  /** Endpoints switched off by a 410 Gone, with the reason. */
  disabledEndpoints(): Map<string, string | null> {
    const rows = this.sql.disabledEndpoints.all() as { endpoint: string; reason: string | null }[];
    return new Map(rows.map((r) => [r.endpoint, r.reason]));
  }

  recentAttempts(endpoint: string, limit: number): AttemptRecord[] {
    const rows = this.sql.attempts.all(endpoint, limit) as {
      event_ids: string;
      at: number;
      status: number | null;
      latency_ms: number;
      error: string | null;
      response: string | null;
    }[];
    return rows.map((r) => ({
      endpoint,
      eventIds: JSON.parse(r.event_ids) as string[],
      at: r.at,
      status: r.status,
      latencyMs: r.latency_ms,
      error: r.error,
      response: r.response,
    }));
  }

  /** The last attempt's status, and since when attempts have failed (null when the last one succeeded). */
  health(endpoint: string): { lastStatus: number | null; failingSince: number | null } {
    const last = this.sql.lastAttempt.get(endpoint) as { status: number | null } | undefined;
    if (!last) return { lastStatus: null, failingSince: null };
    if (last.status !== null && last.status >= 200 && last.status < 300) return { lastStatus: last.status, failingSince: null };
    const since = this.sql.failingSince.get(endpoint, endpoint) as { at: number | null } | undefined;
    return { lastStatus: last.status, failingSince: since?.at ?? null };
  }

  /** Every endpoint with rows in the outbox, configured or not. */
  endpointsWithRows(): string[] {
    return (this.sql.endpointsWithRows.all() as { endpoint: string }[]).map((r) => r.endpoint);
  }

  counts(endpoint: string): EndpointCounts {
    const out: EndpointCounts = { pending: 0, delivered: 0, dead: 0 };
    for (const row of this.sql.counts.all(endpoint) as { state: number; n: number }[]) {
      if (row.state === EventState.Pending) out.pending = row.n;
      else if (row.state === EventState.Delivered) out.delivered = row.n;
      else if (row.state === EventState.Dead) out.dead = row.n;
    }
    return out;
  }

  deadLetters(endpoint: string, limit: number): (QueuedEvent & { error: string | null; status: number | null })[] {
    const rows = this.sql.dead.all(endpoint, EventState.Dead, limit) as (EventRow & {
      last_error: string | null;
      last_status: number | null;
    })[];
    return rows.map((r) => ({ ...queued(endpoint, r), error: r.last_error, status: r.last_status }));
  }

  close(): void {
    this.db.close();
  }
}
