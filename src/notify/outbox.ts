import { mkdirSync } from 'node:fs';
import * as path from 'node:path';
import Database from 'better-sqlite3';
import type { Event } from './event.ts';
import { OutboxSchema } from './outbox-schema.ts';

/** One event queued for one endpoint. */
export interface QueuedEvent {
  seq: number;
  endpoint: string;
  event: Event;
  attempts: number;
  enqueuedAt: number;
}

export interface AttemptRecord {
  endpoint: string;
  eventIds: string[];
  at: number;
  status: number | null;
  latencyMs: number;
  error: string | null;
  response: string | null;
}

export interface EndpointCounts {
  pending: number;
  delivered: number;
  dead: number;
}

const PENDING = 0;
const DELIVERED = 1;
const DEAD = 2;
/** A dead letter that was queued again by a redelivery. */
const REQUEUED = 3;

/**
 * The durable outbox: every event for every endpoint is written here before the client gets its
 * response, and leaves only once delivered (kept a while for redelivery) or dead-lettered.
 *
 * Writes are group-committed: all enqueues made during one turn of the event loop go to disk in
 * one transaction, one fsync (WAL, synchronous=FULL), and their promises resolve together.
 */
export class Outbox {
  private readonly db: Database.Database;
  private readonly sql: OutboxSchema;
  private pending: { endpoint: string; event: Event; resolve: () => void; reject: (err: unknown) => void }[] = [];
  /** Bookkeeping writes (acks, attempt records) that ride along with the next group commit. */
  private deferred: (() => void)[] = [];
  private flushScheduled = false;
  private readonly committedListeners = new Set<(endpoints: Set<string>) => void>();

  constructor(file: string) {
    mkdirSync(path.dirname(file), { recursive: true });
    this.db = new Database(file);
    this.db.pragma('journal_mode = WAL');
    this.db.pragma('synchronous = FULL');
    this.db.pragma('busy_timeout = 5000');
    this.sql = new OutboxSchema(this.db);
  }

  /** Queues an event for an endpoint; resolves once it is on disk. */
  enqueue(endpoint: string, event: Event): Promise<void> {
    return new Promise((resolve, reject) => {
      this.pending.push({ endpoint, event, resolve, reject });
      this.scheduleFlush();
    });
  }

  /**
   * Schedules a bookkeeping write for the next group commit. Losing one in a crash is safe:
   * an unrecorded delivery is delivered again (at-least-once), an unrecorded failure retried.
   */
  private defer(write: () => void): void {
    this.deferred.push(write);
    this.scheduleFlush();
  }

  private scheduleFlush(): void {
    if (this.flushScheduled) return;
    this.flushScheduled = true;
    setImmediate(() => this.flush());
  }

  /** Called with the endpoints that got new events, after each commit. */
  onCommitted(listener: (endpoints: Set<string>) => void): () => void {
    this.committedListeners.add(listener);
    return () => this.committedListeners.delete(listener);
  }

  private flush(): void {
    this.flushScheduled = false;
    const batch = this.pending;
    const deferred = this.deferred;
    this.pending = [];
    this.deferred = [];
    if (batch.length === 0 && deferred.length === 0) return;
    const now = Date.now();
    try {
      this.db.transaction(() => {
        for (const write of deferred) write();
        for (const item of batch) {
          this.sql.insert.run(item.endpoint, item.event.id, JSON.stringify(item.event), now);
        }
      })();
    } catch (err) {
      for (const item of batch) item.reject(err);
      return;
    }
    if (batch.length === 0) return;
    for (const item of batch) item.resolve();
    const endpoints = new Set(batch.map((b) => b.endpoint));
    for (const listener of this.committedListeners) listener(endpoints);
  }

  /** Pending events for an endpoint after `afterSeq`, oldest first. */
  next(endpoint: string, afterSeq: number, limit: number): QueuedEvent[] {
    const rows = this.sql.next.all(endpoint, PENDING, afterSeq, limit) as {
      seq: number;
      payload: string;
      attempts: number;
      enqueued_at: number;
    }[];
    return rows.map((r) => ({
      seq: r.seq,
      endpoint,
      event: JSON.parse(r.payload) as Event,
      attempts: r.attempts,
      enqueuedAt: r.enqueued_at,
    }));
  }

  markDelivered(seqs: number[], status: number): void {
    const now = Date.now();
    this.defer(() => {
      for (const seq of seqs) this.sql.settle.run(DELIVERED, now, status, null, seq);
    });
  }

  markDead(seqs: number[], status: number | null, reason: string): void {
    const now = Date.now();
    this.defer(() => {
      for (const seq of seqs) this.sql.settle.run(DEAD, now, status, reason, seq);
    });
  }

  /** Records a failed attempt on each event (the count survives a restart). */
  recordFailure(seqs: number[], status: number | null, error: string): void {
    this.defer(() => {
      for (const seq of seqs) this.sql.fail.run(status, error, seq);
    });
  }

  recordAttempt(a: AttemptRecord): void {
    this.defer(() => {
      this.sql.attempt.run(a.endpoint, JSON.stringify(a.eventIds), a.at, a.status, a.latencyMs, a.error, a.response);
    });
  }

  recentAttempts(endpoint: string, limit: number): AttemptRecord[] {
    this.flush();
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
    this.flush();
    const last = this.sql.lastAttempt.get(endpoint) as { status: number | null } | undefined;
    if (!last) return { lastStatus: null, failingSince: null };
    if (last.status !== null && last.status >= 200 && last.status < 300) return { lastStatus: last.status, failingSince: null };
    const since = this.sql.failingSince.get(endpoint, endpoint) as { at: number | null } | undefined;
    return { lastStatus: last.status, failingSince: since?.at ?? null };
  }

  counts(endpoint: string): EndpointCounts {
    this.flush();
    const out: EndpointCounts = { pending: 0, delivered: 0, dead: 0 };
    for (const row of this.sql.counts.all(endpoint) as { state: number; n: number }[]) {
      if (row.state === PENDING) out.pending = row.n;
      else if (row.state === DELIVERED) out.delivered = row.n;
      else if (row.state === DEAD) out.dead = row.n;
    }
    return out;
  }

  deadLetters(endpoint: string, limit: number): (QueuedEvent & { error: string | null; status: number | null })[] {
    this.flush();
    const rows = this.sql.dead.all(endpoint, DEAD, limit) as {
      seq: number;
      payload: string;
      attempts: number;
      enqueued_at: number;
      last_error: string | null;
      last_status: number | null;
    }[];
    return rows.map((r) => ({
      seq: r.seq,
      endpoint,
      event: JSON.parse(r.payload) as Event,
      attempts: r.attempts,
      enqueuedAt: r.enqueued_at,
      error: r.last_error,
      status: r.last_status,
    }));
  }

  /**
   * Queues a stored event again for an endpoint (same id: the consumer's idempotency key).
   * A dead letter so requeued stops counting as dead. Returns false when the event is unknown.
   */
  redeliver(endpoint: string, eventId: string): boolean {
    this.flush();
    const row = this.sql.byEventId.get(endpoint, eventId) as { seq: number; payload: string; state: number } | undefined;
    if (!row) return false;
    const now = Date.now();
    this.db.transaction(() => {
      if (row.state === DEAD) this.sql.settle.run(REQUEUED, now, null, 'requeued by redelivery', row.seq);
      this.sql.insert.run(endpoint, eventId, row.payload, now);
    })();
    for (const listener of this.committedListeners) listener(new Set([endpoint]));
    return true;
  }

  getEndpointState(endpoint: string): { disabled: boolean; reason: string | null } {
    const row = this.sql.endpointState.get(endpoint) as { disabled: number; reason: string | null } | undefined;
    return { disabled: row?.disabled === 1, reason: row?.reason ?? null };
  }

  setEndpointDisabled(endpoint: string, disabled: boolean, reason: string | null): void {
    this.sql.setEndpointState.run(endpoint, disabled ? 1 : 0, reason);
  }

  /** Drops delivered events older than `retentionMs` and attempt records beyond `keepAttempts` per endpoint. */
  prune(retentionMs: number, keepAttempts = 1000): void {
    const cutoff = Date.now() - retentionMs;
    this.sql.pruneDelivered.run(DELIVERED, REQUEUED, cutoff);
    this.sql.pruneAttempts.run(keepAttempts);
  }

  close(): void {
    this.flush();
    this.db.close();
  }
}
