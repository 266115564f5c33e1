import { mkdirSync } from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import Database from 'better-sqlite3';
import type { Event } from './event.ts';
import { EventState, type OutboxOp, type WriteReply, type WriteRequest } from './outbox-ops.ts';
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

interface Waiter {
  index: number;
  resolve: (result: boolean | null) => void;
  reject: (err: unknown) => void;
}

// The writer runs from the same folder: compiled, as .js; from source, as .ts through tsx, whose
// loader a worker thread does not inherit on Node 20, so the worker registers it first.
const SOURCE_EXTENSION = path.extname(fileURLToPath(import.meta.url));
const WRITER = new URL(`./outbox-writer${SOURCE_EXTENSION}`, import.meta.url);

function startWriter(file: string): Worker {
  if (SOURCE_EXTENSION !== '.ts') return new Worker(WRITER, { workerData: { file } });
  const bootstrap = `import('tsx/esm/api').then((tsx) => { tsx.register(); return import(${JSON.stringify(WRITER.href)}); })`;
  return new Worker(bootstrap, { eval: true, workerData: { file } });
}

/**
 * The durable outbox: every event for every endpoint is written here before the client gets its
 * response, and leaves only once delivered (kept a while for redelivery) or dead-lettered.
 *
 * Writes go to a writer thread in groups (group commit): while one group is being committed,
 * the next gathers, so a burst of requests costs one fsync and the event loop never waits on the
 * disk. Reads use this thread's own connection (WAL: readers never block the writer).
 */
export class Outbox {
  private readonly db: Database.Database;
  private readonly sql: OutboxSchema;
  private readonly writer: Worker;
  private ops: OutboxOp[] = [];
  private waiters: Waiter[] = [];
  private inFlight: { request: WriteRequest; waiters: Waiter[]; endpoints: Set<string> } | null = null;
  private sendScheduled = false;
  private nextId = 1;
  private closed = false;
  private readonly committedListeners = new Set<(endpoints: Set<string>) => void>();
  /** Endpoint switches (410 Gone), mirrored here so the delivery loop never asks the disk. */
  private readonly disabled = new Map<string, string | null>();

  constructor(file: string) {
    mkdirSync(path.dirname(file), { recursive: true });
    this.db = new Database(file);
    this.db.pragma('journal_mode = WAL');
    this.db.pragma('busy_timeout = 5000');
    this.sql = new OutboxSchema(this.db); // creates the tables before the writer opens them
    for (const row of this.sql.disabledEndpoints.all() as { endpoint: string; reason: string | null }[]) {
      this.disabled.set(row.endpoint, row.reason);
    }
    this.writer = startWriter(file);
    this.writer.on('message', (reply: WriteReply) => this.settled(reply));
    this.writer.on('error', (err) => this.failAll(err));
  }

  /** Queues an event for an endpoint; resolves once it is on disk. */
  async enqueue(endpoint: string, event: Event): Promise<void> {
    await this.write({ t: 'insert', endpoint, eventId: event.id, payload: JSON.stringify(event) }, true);
  }

  /** Called with the endpoints that got new events, after each commit. */
  onCommitted(listener: (endpoints: Set<string>) => void): () => void {
    this.committedListeners.add(listener);
    return () => this.committedListeners.delete(listener);
  }

  /** Resolves once every write queued so far is committed (for readers that must see them). */
  async flushed(): Promise<void> {
    if (!this.inFlight && this.ops.length === 0) return;
    await this.write({ t: 'barrier' }, true);
  }

  private write(op: OutboxOp, awaited: boolean): Promise<boolean | null> {
    if (this.closed) return Promise.reject(new Error('the outbox is closed'));
    const index = this.ops.push(op) - 1;
    const done = awaited
      ? new Promise<boolean | null>((resolve, reject) => this.waiters.push({ index, resolve, reject }))
      : Promise.resolve(null);
    this.schedule();
    return done;
  }

  /**
   * Bookkeeping (acknowledgements, attempt records) rides with the next group commit and is not
   * waited for. Losing one in a crash is safe: an unrecorded delivery is delivered again
   * (at-least-once), an unrecorded failure retried.
   */
  private defer(op: OutboxOp): void {
    void this.write(op, false);
  }

  private schedule(): void {
    if (this.sendScheduled || this.inFlight) return;
    this.sendScheduled = true;
    setImmediate(() => this.send()); // gather what this turn of the event loop adds
  }

  private send(): void {
    this.sendScheduled = false;
    if (this.inFlight || this.ops.length === 0) return;
    const ops = this.ops;
    const durable = ops.some((op) => op.t === 'insert' || op.t === 'redeliver' || op.t === 'endpointState');
    const endpoints = new Set<string>();
    for (const op of ops) if (op.t === 'insert' || op.t === 'redeliver') endpoints.add(op.endpoint);
    const request: WriteRequest = { id: this.nextId++, ops, durable };
    this.inFlight = { request, waiters: this.waiters, endpoints };
    this.ops = [];
    this.waiters = [];
    this.writer.postMessage(request);
  }

  private settled(reply: WriteReply): void {
    const batch = this.inFlight;
    if (!batch || batch.request.id !== reply.id) return;
    this.inFlight = null;
    if (reply.error !== undefined) {
      const err = new Error(`outbox write failed: ${reply.error}`);
      for (const w of batch.waiters) w.reject(err);
    } else {
      for (const w of batch.waiters) w.resolve(reply.results?.[w.index] ?? null);
      if (batch.endpoints.size > 0) for (const listener of this.committedListeners) listener(batch.endpoints);
    }
    if (this.ops.length > 0) this.send();
  }

  private failAll(err: unknown): void {
    const waiters = [...(this.inFlight?.waiters ?? []), ...this.waiters];
    this.inFlight = null;
    this.ops = [];
    this.waiters = [];
    for (const w of waiters) w.reject(err);
  }

  /** Pending events for an endpoint after `afterSeq`, oldest first. */
  next(endpoint: string, afterSeq: number, limit: number): QueuedEvent[] {
    const rows = this.sql.next.all(endpoint, EventState.Pending, afterSeq, limit) as {
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
    this.defer({ t: 'settle', seqs, state: EventState.Delivered, status, error: null, at: Date.now() });
  }

  markDead(seqs: number[], status: number | null, reason: string): void {
    this.defer({ t: 'settle', seqs, state: EventState.Dead, status, error: reason, at: Date.now() });
  }

  /** Records a failed attempt on each event (the count survives a restart). */
  recordFailure(seqs: number[], status: number | null, error: string): void {
    this.defer({ t: 'fail', seqs, status, error });
  }

  recordAttempt(a: AttemptRecord): void {
    this.defer({
      t: 'attempt',
      endpoint: a.endpoint,
      eventIds: JSON.stringify(a.eventIds),
      at: a.at,
      status: a.status,
      latencyMs: a.latencyMs,
      error: a.error,
      response: a.response,
    });
  }

  /**
   * Queues a stored event again for an endpoint (same id: the consumer's idempotency key).
   * A dead letter so requeued stops counting as dead. Resolves false when the event is unknown.
   */
  async redeliver(endpoint: string, eventId: string): Promise<boolean> {
    return (await this.write({ t: 'redeliver', endpoint, eventId }, true)) === true;
  }

  isDisabled(endpoint: string): boolean {
    return this.disabled.has(endpoint);
  }

  disabledReason(endpoint: string): string | null {
    return this.disabled.get(endpoint) ?? null;
  }

  setEndpointDisabled(endpoint: string, disabled: boolean, reason: string | null): void {
    if (disabled) this.disabled.set(endpoint, reason);
    else this.disabled.delete(endpoint);
    this.defer({ t: 'endpointState', endpoint, disabled, reason });
  }

  prune(retentionMs: number, keepAttempts = 1000): void {
    this.defer({ t: 'prune', retentionMs, keepAttempts });
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
    const rows = this.sql.dead.all(endpoint, EventState.Dead, limit) as {
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

  /** Commits what is queued, stops the writer and closes the database. */
  async close(): Promise<void> {
    if (this.closed) return;
    await this.flushed();
    this.closed = true;
    await this.writer.terminate();
    this.db.close();
  }
}
