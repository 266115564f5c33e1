import type { Event } from './event.ts';
import { EventState, type OutboxOp, type WriteRequest, type WriterMessage } from './outbox-ops.ts';

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
  resolve: (result: boolean | null) => void;
  reject: (err: unknown) => void;
}

/**
 * Writes to the outbox through its writer thread, with group commit: while one group is being
 * committed, the next gathers, so a burst of requests costs one fsync and no event loop waits
 * on the disk.
 */
export class OutboxClient {
  private ops: OutboxOp[] = [];
  private waiters: Waiter[] = [];
  private inFlight: { id: number; waiters: Waiter[] } | null = null;
  private sendScheduled = false;
  private nextId = 1;
  private closed = false;
  private readonly committedListeners = new Set<(endpoints: string[]) => void>();

  constructor(private readonly port: WriterPort) {
    port.on('message', (message) => {
      if (message.kind === 'reply') this.settled(message);
      else for (const listener of this.committedListeners) listener(message.endpoints);
    });
  }

  /** Queues an event for an endpoint; resolves once it is on disk. */
  async enqueue(endpoint: string, event: Event): Promise<void> {
    await this.write({ t: 'insert', endpoint, eventId: event.id, payload: JSON.stringify(event) }, true);
  }

  /** Told of endpoints that got new events, after each commit that added some. */
  onCommitted(listener: (endpoints: string[]) => void): void {
    this.committedListeners.add(listener);
  }

  /** Resolves once every write queued so far is committed (for readers that must see them). */
  async flushed(): Promise<void> {
    if (!this.inFlight && this.ops.length === 0) return;
    await this.write({ t: 'barrier' }, true);
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

  prune(retentionMs: number, keepAttempts = 1000): void {
    this.defer({ t: 'prune', retentionMs, keepAttempts });
  }

  /**
   * Queues a stored event again for an endpoint (same id: the consumer's idempotency key).
   * A dead letter so requeued stops counting as dead. Resolves false when the event is unknown.
   */
  async redeliver(endpoint: string, eventId: string): Promise<boolean> {
    return (await this.write({ t: 'redeliver', endpoint, eventId }, true)) === true;
  }

  /** Commits what is queued; later writes are refused. */
  async close(): Promise<void> {
    await this.flushed();
    this.closed = true;
  }

  /** The writer is gone: everyone waiting learns it. */
  failAll(err: unknown): void {
    const waiters = [...(this.inFlight?.waiters ?? []), ...this.waiters];
    this.inFlight = null;
    this.ops = [];
    this.waiters = [];
    for (const w of waiters) w.reject(err);
  }

  /**
   * Bookkeeping (acknowledgements, attempt records) rides with the next group commit and is not
   * waited for. Losing one in a crash is safe: an unrecorded delivery is delivered again
   * (at-least-once), an unrecorded failure retried.
   */
  private defer(op: OutboxOp): void {
    void this.write(op, false);
  }

  private write(op: OutboxOp, awaited: boolean): Promise<boolean | null> {
    if (this.closed) return Promise.reject(new Error('the outbox is closed'));
    const index = this.ops.push(op) - 1;
    const done = awaited
      ? new Promise<boolean | null>((resolve, reject) => this.waiters.push({ index, resolve, reject }))
      : Promise.resolve(null);
    if (!this.sendScheduled && !this.inFlight) {
      this.sendScheduled = true;
      setImmediate(() => this.send()); // gather what this turn of the event loop adds
    }
    return done;
  }

  private send(): void {
    this.sendScheduled = false;
    if (this.inFlight || this.ops.length === 0) return;
    const ops = this.ops;
    const durable = ops.some((op) => op.t === 'insert' || op.t === 'redeliver' || op.t === 'endpointState');
    const request: WriteRequest = { kind: 'write', id: this.nextId++, ops, durable };
    this.inFlight = { id: request.id, waiters: this.waiters };
    this.ops = [];
    this.waiters = [];
    this.port.postMessage(request);
  }

  private settled(reply: Extract<WriterMessage, { kind: 'reply' }>): void {
    const batch = this.inFlight;
    if (!batch || batch.id !== reply.id) return;
    this.inFlight = null;
    if (reply.error !== undefined) {
      const err = new Error(`outbox write failed: ${reply.error}`);
      for (const w of batch.waiters) w.reject(err);
    } else {
      for (const w of batch.waiters) w.resolve(reply.results?.[w.index] ?? null);
    }
    if (this.ops.length > 0) this.send();
  }
}
