import type { Worker } from 'node:worker_threads';
import type { Logger } from 'pino';
import type { ThreadState } from '../admin.ts';

export interface SupervisorOptions {
  /** First wait before a restart; doubles after each death in a row, up to maxBackoffMs. */
  initialBackoffMs: number;
  maxBackoffMs: number;
  /** A thread that has been up this long is healthy again: the next death waits initialBackoffMs. */
  stableMs: number;
}

export const DEFAULT_SUPERVISION: SupervisorOptions = { initialBackoffMs: 100, maxBackoffMs: 5_000, stableMs: 30_000 };

export interface SupervisedHooks {
  /** A new incarnation was spawned (`incarnation` counts from 0): attach its listeners. */
  started(worker: Worker, incarnation: number): void;
  /** The thread said it is ready (its first `{kind:'ready'}` message). */
  up(worker: Worker): void;
  /** The thread died (or was terminated as stuck): fail whatever waits on it. */
  down(reason: Error): void;
}

/**
 * Keeps one worker thread alive: a death ('exit' or 'error') is noticed at once, reported, and
 * followed by a restart with back-off. The thread's work lives in the outbox, so a restarted
 * thread resumes from there. The first incarnation dying before it was ever ready is a start-up
 * failure (bad file, bad config), reported through `ready` rather than retried forever.
 */
export class Supervisor {
  private worker: Worker | null = null;
  private current: ThreadState = 'restarting';
  private incarnation = 0;
  private backoffMs: number;
  private upSince = 0;
  private restartTimer: NodeJS.Timeout | null = null;
  private closed = false;
  private everUp = false;
  private lastError: string | null = null;
  readonly ready: Promise<void>;
  private markReady!: () => void;
  private failReady!: (err: unknown) => void;

  constructor(
    readonly name: string,
    private readonly spawn: (incarnation: number) => Worker,
    private readonly hooks: SupervisedHooks,
    private readonly logger: Logger,
    private readonly options: SupervisorOptions = DEFAULT_SUPERVISION,
  ) {
    this.backoffMs = options.initialBackoffMs;
    this.ready = new Promise((resolve, reject) => {
      this.markReady = resolve;
      this.failReady = reject;
    });
    this.ready.catch(() => undefined); // observed by whoever awaits it
    this.start();
  }

  get state(): ThreadState {
    return this.current;
  }

  /** The running worker, only while it is up. */
  get live(): Worker | null {
    return this.current === 'up' ? this.worker : null;
  }

  get restarts(): number {
    return Math.max(0, this.incarnation - 1);
  }

  get error(): string | null {
    return this.lastError;
  }

  /** Ends a thread that stopped answering; the supervisor restarts it like any other death. */
  kill(reason: string): void {
    const worker = this.worker;
    if (!worker || this.closed) return;
    this.logger.error({ thread: this.name, reason }, 'notifications thread is stuck: terminating it');
    this.died(worker, new Error(`${this.name} thread ${reason}`));
    void worker.terminate();
  }

  /** Stops supervising and terminates the thread (whatever it is doing). */
  async close(): Promise<void> {
    this.closed = true;
    if (this.restartTimer) clearTimeout(this.restartTimer);
    this.restartTimer = null;
    const worker = this.worker;
    this.worker = null;
    this.current = 'down';
    if (worker) await worker.terminate();
  }

  private start(): void {
    this.restartTimer = null;
    if (this.closed) return;
    const incarnation = this.incarnation++;
    this.current = 'restarting';
    let worker: Worker;
    try {
      worker = this.spawn(incarnation);
    } catch (err) {
      this.died(null, err instanceof Error ? err : new Error(String(err)));
      return;
    }
    this.worker = worker;
    worker.on('message', (m: { kind?: string }) => {
      if (m?.kind !== 'ready' || this.worker !== worker || this.current === 'up') return;
      this.current = 'up';
      this.upSince = Date.now();
      if (this.everUp) this.logger.info({ thread: this.name, incarnation }, 'notifications thread restarted');
      this.everUp = true;
      this.lastError = null;
      this.hooks.up(worker);
      this.markReady();
    });
    worker.on('error', (err) => this.died(worker, err));
    worker.on('exit', (code) => this.died(worker, new Error(`${this.name} thread exited with code ${code}`)));
    this.hooks.started(worker, incarnation);
  }

  private died(worker: Worker | null, err: Error): void {
    if (worker !== this.worker || this.closed) return; // an old incarnation, or shutting down
    this.worker = null;
    this.current = 'down';
    this.lastError = err.message;
    this.hooks.down(err);
    if (!this.everUp) {
      this.logger.error({ err, thread: this.name }, 'notifications thread failed to start');
      this.closed = true;
      this.failReady(err);
      return;
    }
    if (Date.now() - this.upSince >= this.options.stableMs) this.backoffMs = this.options.initialBackoffMs;
    const wait = this.backoffMs;
    this.backoffMs = Math.min(this.backoffMs * 2, this.options.maxBackoffMs);
    this.logger.error({ err, thread: this.name, restartInMs: wait }, 'notifications thread died; restarting');
    this.restartTimer = setTimeout(() => this.start(), wait);
    this.restartTimer.unref();
  }
}
