import type { Event } from '../event.ts';
import type { IntentRecord } from '../events/change-intent.ts';
import { EventState, type EventRange, type OpResult, type OutboxOp, type QueuedRow, type WriteRequest, type WriterMessage } from '../protocol.ts';
import type { Outbox } from './outbox.ts';

/** A worker or a message port: where the writer thread is reached. */
export interface WriterPort {
  postMessage(message: WriteRequest): void;
  on(event: 'message', listener: (message: WriterMessage) => void): unknown;
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

interface Waiter {
  index: number;
  resolve: (result: OpResult) => void;
  reject: (err: unknown) => void;
}

export interface OutboxClientOptions {
  /**
   * While no writer is attached (it died and is restarting): `fail` rejects every write at once
   * (the registry's requests must not wait on a dead thread); `queue` keeps them, and what was in
   * flight, to send to the next writer (the delivery thread's bookkeeping, which is idempotent).
   */
  whileDetached: 'fail' | 'queue';
  /** The error a write gets when no writer is attached (fail mode) or its commit is late. */
  unavailable: (reason: string) => Error;
  /** How long a group commit may take before its waiters are failed and `stuck` is called. */
  deadlineMs?: number;
  /** The writer missed a deadline: the owner ends it (the supervisor then restarts it). */
  stuck?: () => void;
  /** Intents are fsynced before their change (default); see OutboxOptions.durableIntents. */
  durableIntents?: boolean;
}

/**
 * Writes to the outbox through its writer thread, with group commit: while one group is being
 * committed, the next gathers, so a burst of requests costs one fsync and no event loop waits
 * on the disk. The writer may be replaced (after a restart): `detach`, then `attach` the new one.
 */
export class OutboxClient implements Outbox {
  private port: WriterPort | null = null;
  private ops: OutboxOp[] = [];
  private waiters: Waiter[] = [];
  private inFlight: { id: number; ops: OutboxOp[]; waiters: Waiter[]; timer: NodeJS.Timeout | null } | null = null;
  private sendScheduled = false;
  private nextId = 1;
  private closed = false;
  private readonly committedListeners = new Set<(endpoints: string[]) => void>();

  constructor(
    port: WriterPort | null,
    private readonly options: OutboxClientOptions,
  ) {
    if (port) this.attach(port);
  }

  /** A (new) writer takes the writes from here on; queued ones go to it now. */
  attach(port: WriterPort): void {
    if (this.port) this.detach(this.options.unavailable('the outbox writer was replaced'));
    this.port = port;
    port.on('message', (message) => {
      if (this.port !== port) return; // a replaced writer
      if (message.kind === 'reply') this.settled(message);
      else if (message.kind === 'committed') for (const listener of this.committedListeners) listener(message.endpoints);
    });
    this.schedule();
  }

  /** The writer is gone: in fail mode everyone waiting learns it; in queue mode it is kept for the next one. */
  detach(err: Error): void {
    this.port = null;
    const batch = this.inFlight;
    this.inFlight = null;
    if (batch?.timer) clearTimeout(batch.timer);
    if (this.options.whileDetached === 'fail') {
      const waiters = [...(batch?.waiters ?? []), ...this.waiters];
      this.ops = [];
      this.waiters = [];
      for (const w of waiters) w.reject(err);
      return;
    }
    if (batch) {
      // Sent again to the next writer: settling, counting a failure or recording an attempt twice is harmless.
      const shift = batch.ops.length;
      this.ops = [...batch.ops, ...this.ops];
      this.waiters = [...batch.waiters, ...this.waiters.map((w) => ({ ...w, index: w.index + shift }))];
    }
  }

  /** Queues an event for an endpoint; resolves once it is on disk. */
  async enqueue(endpoint: string, event: Event): Promise<void> {
    await this.write({ t: 'insert', endpoint, eventId: event.id, payload: JSON.stringify(event) }, true);
  }

  async enqueueRows(rows: QueuedRow[]): Promise<void> {
    await Promise.all(rows.map((row) => this.write({ t: 'insert', ...row }, true)));
  }

  async intend(record: IntentRecord): Promise<void> {
    await this.write({ t: 'intend', id: record.id, at: record.at, record: JSON.stringify(record), durable: this.options.durableIntents ?? true }, true);
  }

  async confirm(id: string, rows: QueuedRow[]): Promise<void> {
    await this.write({ t: 'confirm', id, rows }, true);
  }

  abandon(id: string): void {
    // Not waited for: an intent left by a lost abandon is reconciled at start, and finds nothing changed.
    this.defer({ t: 'confirm', id, rows: [] });
  }

  /** Told of endpoints that got new events, after each commit that added some. */
  onCommitted(listener: (endpoints: string[]) => void): void {
    this.committedListeners.add(listener);
  }

  /** Resolves once every write queued so far is committed (for readers that must see them). */
  async flushed(): Promise<void> {
    if (!this.inFlight && this.ops.length === 0 && this.port) return;
    await this.write({ t: 'barrier' }, true);
  }

  /** Resolves once a small write has been committed: the outbox takes writes. */
  async probe(): Promise<void> {
    await this.write({ t: 'probe' }, true);
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
    const { eventIds, ...rest } = a;
    this.defer({ t: 'attempt', ...rest, eventIds: JSON.stringify(eventIds) });
  }

  setEndpointDisabled(endpoint: string, disabled: boolean, reason: string | null): void {
    this.defer({ t: 'endpointState', endpoint, disabled, reason });
  }

  /**
   * Starts upkeep: delivered events older than `retentionMs`, dead letters (and pending events of
   * `removedEndpoints`) older than `deadRetentionMs`, and old attempt records go (outbox-upkeep.ts).
   */
  prune(retentionMs: number, deadRetentionMs: number, removedEndpoints: string[], keepAttempts = 1000): void {
    this.defer({ t: 'prune', retentionMs, deadRetentionMs, removedEndpoints, keepAttempts });
  }

  /**
   * Queues a stored event again for an endpoint (same id: the consumer's idempotency key).
   * A dead letter so requeued stops counting as dead. Resolves false when the event is unknown.
   */
  async redeliver(endpoint: string, eventId: string): Promise<boolean> {
    return (await this.write({ t: 'redeliver', endpoint, eventId }, true)) === true;
  }

  /** Queues the endpoint's retained events of `range` again (same ids, original order); how many. */
  async replay(endpoint: string, range: EventRange): Promise<number> {
    const n = await this.write({ t: 'replay', endpoint, ...range }, true);
    return typeof n === 'number' ? n : 0;
  }

  /** Commits what is queued; later writes are refused. */
  async close(): Promise<void> {
    if (this.port) await this.flushed();
    this.closed = true;
  }

  /**
   * Bookkeeping (acknowledgements, attempt records) rides with the next group commit and is not
   * waited for. Losing one in a crash is safe: an unrecorded delivery is delivered again
   * (at-least-once), an unrecorded failure retried.
   */
  private defer(op: OutboxOp): void {
    this.write(op, false).catch(() => undefined);
  }

  private write(op: OutboxOp, awaited: boolean): Promise<OpResult> {
    if (this.closed) return Promise.reject(this.options.unavailable('the outbox is closed'));
    if (!this.port && this.options.whileDetached === 'fail') return Promise.reject(this.options.unavailable('the outbox writer is down'));
    const index = this.ops.push(op) - 1;
    const done = awaited
      ? new Promise<OpResult>((resolve, reject) => this.waiters.push({ index, resolve, reject }))
      : Promise.resolve(null);
    this.schedule();
    return done;
  }

  private schedule(): void {
    if (!this.sendScheduled && !this.inFlight && this.port && this.ops.length > 0) {
      this.sendScheduled = true;
      setImmediate(() => this.send()); // gather what this turn of the event loop adds
    }
  }

  private send(): void {
    this.sendScheduled = false;
    const port = this.port;
    if (this.inFlight || this.ops.length === 0 || !port) return;
    const ops = this.ops;
    const durable = ops.some(
      (op) =>
        op.t === 'insert' || (op.t === 'intend' && op.durable) || (op.t === 'confirm' && op.rows.length > 0) || op.t === 'redeliver' || op.t === 'replay' || op.t === 'endpointState',
    );
    const request: WriteRequest = { kind: 'write', id: this.nextId++, ops, durable };
    const deadline = this.options.deadlineMs;
    const timer = deadline === undefined ? null : setTimeout(() => this.late(request.id), deadline);
    timer?.unref();
    this.inFlight = { id: request.id, ops, waiters: this.waiters, timer };
    this.ops = [];
    this.waiters = [];
    port.postMessage(request);
  }

  private late(id: number): void {
    const batch = this.inFlight;
    if (!batch || batch.id !== id) return;
    this.inFlight = null;
    const err = this.options.unavailable(`the outbox writer did not commit within ${this.options.deadlineMs} ms`);
    for (const w of batch.waiters) w.reject(err);
    this.options.stuck?.();
    this.schedule();
  }

  private settled(reply: Extract<WriterMessage, { kind: 'reply' }>): void {
    const batch = this.inFlight;
    if (!batch || batch.id !== reply.id) return;
    this.inFlight = null;
    if (batch.timer) clearTimeout(batch.timer);
    if (reply.error !== undefined) {
      const err = this.options.unavailable(`the outbox write failed: ${reply.error}`);
      for (const w of batch.waiters) w.reject(err);
    } else {
      for (const w of batch.waiters) w.resolve(reply.results?.[w.index] ?? null);
    }
    if (this.ops.length > 0) this.send();
  }
}
