import { setImmediate as nextTurn } from 'node:timers/promises';
import { EventState, type OutboxOp } from '../protocol.ts';
import type { OutboxSchema } from './outbox-schema.ts';

/** Rows deleted per statement: small enough that a commit waiting behind it waits little. */
export const PRUNE_BATCH_ROWS = 500;

export type PruneRequest = Extract<OutboxOp, { t: 'prune' }>;

/**
 * Outbox upkeep, in the writer thread but off its commit path: a prune request is not applied in
 * the group commit that carries it; it starts a loop of small DELETEs (PRUNE_BATCH_ROWS rows
 * each, found through an index), and between two of them the thread turns its event loop, so
 * the client commits queued meanwhile go first. A request arriving during a run is kept (the
 * latest one) and run next.
 *
 * What goes: delivered (and requeued dead) events past `retentionMs`; dead letters past
 * `deadRetentionMs`; pending events of endpoints no longer configured, past `deadRetentionMs`
 * too; delivery attempts beyond the newest `keepAttempts` per endpoint.
 */
export class OutboxUpkeep {
  private next: PruneRequest | null = null;
  private running = false;

  constructor(
    private readonly sql: OutboxSchema,
    private readonly batchRows = PRUNE_BATCH_ROWS,
    /** Told of each batch (rows deleted), for tests. */
    private readonly onBatch: (rows: number) => void = () => {},
  ) {}

  request(op: PruneRequest): void {
    this.next = op;
    if (!this.running) void this.run();
  }

  /** Resolves when no run is going (tests). */
  async idle(): Promise<void> {
    while (this.running) await nextTurn();
  }

  private async run(): Promise<void> {
    this.running = true;
    try {
      while (this.next) {
        const op = this.next;
        this.next = null;
        await this.prune(op, Date.now());
      }
    } finally {
      this.running = false;
    }
  }

  private async prune(op: PruneRequest, now: number): Promise<void> {
    const sql = this.sql;
    const n = this.batchRows;
    await this.drain(() => sql.pruneSettled.run(EventState.Delivered, now - op.retentionMs, n).changes);
    await this.drain(() => sql.pruneSettled.run(EventState.Requeued, now - op.retentionMs, n).changes);
    await this.drain(() => sql.pruneSettled.run(EventState.Dead, now - op.deadRetentionMs, n).changes);
    for (const endpoint of op.removedEndpoints) {
      await this.drain(() => sql.prunePendingOf.run(endpoint, EventState.Pending, now - op.deadRetentionMs, n).changes);
    }
    for (const { endpoint } of sql.attemptEndpoints.all() as { endpoint: string }[]) {
      const cutoff = sql.attemptCutoff.get(endpoint, op.keepAttempts) as { id: number } | undefined;
      if (cutoff) await this.drain(() => sql.pruneAttemptsOf.run(endpoint, cutoff.id, n).changes);
    }
  }

  /** Runs `batch` until it deletes less than a full batch, yielding to queued writes after each. */
  private async drain(batch: () => number): Promise<void> {
    for (;;) {
      const rows = batch();
      if (rows > 0) this.onBatch(rows);
      await nextTurn();
      if (rows < this.batchRows) return;
    }
  }
}
