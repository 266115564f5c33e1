import { setTimeout as sleep } from 'node:timers/promises';
import type { Logger } from 'pino';
import type { QueuedEvent } from '../outbox/outbox-reads.ts';
import type { AttemptLedger } from './attempt-ledger.ts';
import { EndpointGoneError, GaveUpError } from './delivery-error.ts';
import type { Sink } from './sink.ts';

/** One endpoint's view of the outbox. */
export interface EndpointQueue {
  /** Pending events after `afterSeq`, oldest first. */
  next(afterSeq: number, limit: number): Promise<QueuedEvent[]>;
  isDisabled(): boolean;
  delivered(seqs: number[], status: number): void;
  dead(seqs: number[], status: number | null, reason: string): void;
  disable(reason: string): void;
}

/** Rows read from the outbox at a time. */
const READ_AHEAD = 256;
/**
 * An idle worker looks at its queue this often even unwoken: another process may have queued
 * events in the same outbox (`dockyard gc` beside the registry), which no commit here announces.
 */
const IDLE_LOOK_MS = 1_000;
/** Pause after an unexpected fault before the worker tries again. */
const FAULT_PAUSE_MS = 1_000;

export interface WorkerOptions {
  /** Events per request: 1 unless the endpoint has `batch`. */
  maxEvents: number;
  /** With batching: how long to wait for a batch to fill. */
  maxWaitMs: number;
}

/**
 * Drains one endpoint's durable queue, in order, into its sink chain (retrying -> HTTP). One per
 * endpoint, so a slow or dead endpoint holds up nobody else. The next event waits until the one
 * before it is delivered or dead-lettered: order is kept.
 */
export class DeliveryWorker {
  private cursor = 0;
  /** Rows read but not yet delivered, oldest first, all after the cursor. */
  private readAhead: QueuedEvent[] = [];
  private wakeUp: (() => void) | null = null;
  private signalled = false;
  private running: Promise<void> | null = null;

  constructor(
    readonly endpoint: string,
    private readonly queue: EndpointQueue,
    private readonly sink: Sink,
    private readonly ledger: AttemptLedger,
    private readonly options: WorkerOptions,
    private readonly signal: AbortSignal,
    private readonly logger: Logger,
    private readonly report: {
      delivered(events: QueuedEvent[], now: number): void;
      dead(events: QueuedEvent[], reason: string): void;
    },
  ) {}

  start(): void {
    this.running ??= this.run();
  }

  /**
   * Keeps the loop going through unexpected faults (a failed read of the outbox, say): an
   * endpoint that silently stopped delivering would break the promise of at-least-once.
   */
  private async run(): Promise<void> {
    while (!this.signal.aborted) {
      try {
        await this.loop();
      } catch (err) {
        if (this.signal.aborted) return;
        this.logger.error({ err, endpoint: this.endpoint }, 'delivery worker fault; resuming shortly');
        this.readAhead = [];
        await sleep(FAULT_PAUSE_MS, undefined, { signal: this.signal }).catch(() => undefined);
      }
    }
  }

  /**
   * Reads the queue from its start again: this replica took the endpoint over (a shared
   * outbox), and whatever another replica left pending goes first.
   */
  rewind(): void {
    this.cursor = 0;
    this.readAhead = [];
    this.wake();
  }

  /** New events were committed (or the endpoint was enabled): look again. */
  wake(): void {
    this.signalled = true;
    this.wakeUp?.();
  }

  async stopped(): Promise<void> {
    await this.running;
  }

  private async loop(): Promise<void> {
    while (!this.signal.aborted) {
      if (this.queue.isDisabled()) {
        this.readAhead = [];
        await this.waitForWake();
        continue;
      }
      let batch = await this.take();
      if (batch.length === 0) {
        await this.waitForWake();
        continue;
      }
      if (batch.length < this.options.maxEvents && this.options.maxWaitMs > 0) {
        // Let the batch fill, but never hold the oldest event longer than maxwait.
        const waited = Date.now() - batch[0]!.enqueuedAt;
        if (waited < this.options.maxWaitMs) {
          await sleep(this.options.maxWaitMs - waited, undefined, { signal: this.signal }).catch(() => undefined);
          this.readAhead = [];
          batch = await this.take();
        }
      }
      await this.deliver(batch);
    }
  }

  /**
   * The next batch after the cursor. Rows are read ahead in blocks, so an endpoint taking one
   * event per request does not query the outbox once per event.
   */
  private async take(): Promise<QueuedEvent[]> {
    if (this.readAhead.length < this.options.maxEvents) {
      const after = this.readAhead.length > 0 ? this.readAhead[this.readAhead.length - 1]!.seq : this.cursor;
      this.readAhead.push(...(await this.queue.next(after, Math.max(READ_AHEAD, this.options.maxEvents))));
    }
    return this.readAhead.slice(0, this.options.maxEvents);
  }

  private async deliver(batch: QueuedEvent[]): Promise<void> {
    const seqs = batch.map((q) => q.seq);
    this.ledger.track(batch);
    try {
      await this.sink.write(batch.map((q) => q.event));
      this.queue.delivered(seqs, 200);
      this.report.delivered(batch, Date.now());
    } catch (err) {
      if (err instanceof GaveUpError) {
        this.queue.dead(seqs, err.lastStatus, err.reason);
        this.report.dead(batch, err.reason);
        this.logger.warn({ endpoint: this.endpoint, events: batch.map((q) => q.event.id), reason: err.reason }, 'events dead-lettered');
      } else if (err instanceof EndpointGoneError) {
        this.readAhead = [];
        this.queue.disable('410 Gone');
        this.logger.warn({ endpoint: this.endpoint }, 'endpoint answered 410 Gone: disabled until re-enabled');
        return; // cursor unchanged: these events go first once the endpoint is enabled
      } else if (this.signal.aborted) {
        return;
      } else if (this.queue.isDisabled()) {
        this.readAhead = []; // the lease was lost mid-retry: these events are the next holder's
        return;
      } else {
        throw err;
      }
    }
    this.cursor = seqs[seqs.length - 1]!;
    let done = 0;
    while (done < this.readAhead.length && this.readAhead[done]!.seq <= this.cursor) done++;
    this.readAhead.splice(0, done);
  }

  private async waitForWake(): Promise<void> {
    if (this.signalled) {
      this.signalled = false;
      return;
    }
    await new Promise<void>((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.wakeUp = null;
        this.signal.removeEventListener('abort', done);
        resolve();
      };
      const timer = setTimeout(done, IDLE_LOOK_MS);
      this.wakeUp = done;
      this.signal.addEventListener('abort', done, { once: true });
    });
    this.signalled = false;
  }
}
