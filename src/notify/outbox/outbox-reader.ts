import Database from 'better-sqlite3';
import type { IntentRecord } from '../events/change-intent.ts';
import type { Event } from '../event.ts';
import { EventState, type EventRange } from '../protocol.ts';
import type { AttemptRecord } from './outbox-client.ts';
import {
  attemptRecord,
  queued,
  type AttemptRow,
  type DeadLetter,
  type EndpointCounts,
  type EventRow,
  type OutboxReads,
  type QueuedEvent,
} from './outbox-reads.ts';
import { EventRangeSql } from './event-range.ts';
import { OutboxSchema } from './outbox-schema.ts';

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

/** Reads the outbox file on a connection of its own (WAL: readers never block the writer). */
export class OutboxReader implements OutboxReads {
  private readonly db: Database.Database;
  private readonly sql: OutboxSchema;
  private readonly ranges: EventRangeSql;

  constructor(file: string) {
    this.db = new Database(file);
    this.db.pragma('busy_timeout = 5000');
    this.sql = new OutboxSchema(this.db);
    this.ranges = new EventRangeSql(this.db);
  }

  async events(range: EventRange, limit: number): Promise<Event[]> {
    return this.ranges.events(range, limit);
  }

  /** Pending events for an endpoint after `afterSeq`, oldest first. */
  async next(endpoint: string, afterSeq: number, limit: number): Promise<QueuedEvent[]> {
    const rows = this.sql.next.all(endpoint, EventState.Pending, afterSeq, limit) as EventRow[];
    return rows.map((r) => queued(endpoint, r));
  }

  /** Endpoints switched off by a 410 Gone, with the reason. */
  async disabledEndpoints(): Promise<Map<string, string | null>> {
    const rows = this.sql.disabledEndpoints.all() as { endpoint: string; reason: string | null }[];
    return new Map(rows.map((r) => [r.endpoint, r.reason]));
  }

  async recentAttempts(endpoint: string, limit: number): Promise<AttemptRecord[]> {
    return (this.sql.attempts.all(endpoint, limit) as AttemptRow[]).map((r) => attemptRecord(endpoint, r));
  }

  /** The last attempt's status, and since when attempts have failed (null when the last one succeeded). */
  async health(endpoint: string): Promise<{ lastStatus: number | null; failingSince: number | null }> {
    const last = this.sql.lastAttempt.get(endpoint) as { status: number | null } | undefined;
    if (!last) return { lastStatus: null, failingSince: null };
    if (last.status !== null && last.status >= 200 && last.status < 300) return { lastStatus: last.status, failingSince: null };
    const since = this.sql.failingSince.get(endpoint, endpoint) as { at: number | null } | undefined;
    return { lastStatus: last.status, failingSince: since?.at ?? null };
  }

  /** Every endpoint with rows in the outbox, configured or not. */
  async endpointsWithRows(): Promise<string[]> {
    return (this.sql.endpointsWithRows.all() as { endpoint: string }[]).map((r) => r.endpoint);
  }

  async counts(endpoint: string): Promise<EndpointCounts> {
    const out: EndpointCounts = { pending: 0, delivered: 0, dead: 0 };
    for (const row of this.sql.counts.all(endpoint) as { state: number; n: number }[]) {
      if (row.state === EventState.Pending) out.pending = row.n;
      else if (row.state === EventState.Delivered) out.delivered = row.n;
      else if (row.state === EventState.Dead) out.dead = row.n;
    }
    return out;
  }

  async deadLetters(endpoint: string, limit: number): Promise<DeadLetter[]> {
    const rows = this.sql.dead.all(endpoint, EventState.Dead, limit) as (EventRow & {
      last_error: string | null;
      last_status: number | null;
    })[];
    return rows.map((r) => ({ ...queued(endpoint, r), error: r.last_error, status: r.last_status }));
  }

  async close(): Promise<void> {
    this.db.close();
  }
}
