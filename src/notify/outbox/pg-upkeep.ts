import type pg from 'pg';
import { EventState } from '../protocol.ts';
import { PRUNE_BATCH_ROWS, type PruneRequest } from './outbox-upkeep.ts';
import { SCHEMA } from './pg-schema.ts';

const E = `${SCHEMA}.events`;
const A = `${SCHEMA}.attempts`;

/**
 * Upkeep of the shared outbox: what OutboxUpkeep does for SQLite, in small DELETEs on a
 * connection of its own, so commits never queue behind it. Every replica may run it; two at once
 * delete disjoint or already-deleted rows, which is harmless.
 */
export class PgUpkeep {
  private next: PruneRequest | null = null;
  private running = false;

  constructor(
    private readonly client: pg.ClientBase,
    private readonly onError: (err: unknown) => void,
    private readonly batchRows = PRUNE_BATCH_ROWS,
  ) {}

  request(op: PruneRequest): void {
    this.next = op;
    if (!this.running) void this.run();
  }

  private async run(): Promise<void> {
    this.running = true;
    try {
      while (this.next) {
        const op = this.next;
        this.next = null;
        await this.prune(op, Date.now()).catch(this.onError);
      }
    } finally {
      this.running = false;
    }
  }

  private async prune(op: PruneRequest, now: number): Promise<void> {
    const n = this.batchRows;
    const settled = (state: number, before: number) =>
      this.drain(`DELETE FROM ${E} WHERE seq IN (SELECT seq FROM ${E} WHERE state = $1 AND settled_at < $2 LIMIT $3)`, [state, before, n]);
    await settled(EventState.Delivered, now - op.retentionMs);
    await settled(EventState.Requeued, now - op.retentionMs);
    await settled(EventState.Dead, now - op.deadRetentionMs);
    for (const endpoint of op.removedEndpoints) {
      await this.drain(
        `DELETE FROM ${E} WHERE seq IN (SELECT seq FROM ${E} WHERE endpoint = $1 AND state = $2 AND enqueued_at < $3 LIMIT $4)`,
        [endpoint, EventState.Pending, now - op.deadRetentionMs, n],
      );
    }
    const { rows } = await this.client.query<{ endpoint: string }>(`SELECT DISTINCT endpoint FROM ${A}`);
    for (const { endpoint } of rows) {
      const cut = await this.client.query<{ id: number }>(`SELECT id FROM ${A} WHERE endpoint = $1 ORDER BY id DESC LIMIT 1 OFFSET $2`, [
        endpoint,
        op.keepAttempts,
      ]);
      const cutoff = cut.rows[0]?.id;
      if (cutoff !== undefined) {
        await this.drain(`DELETE FROM ${A} WHERE id IN (SELECT id FROM ${A} WHERE endpoint = $1 AND id <= $2 ORDER BY id LIMIT $3)`, [
          endpoint,
          cutoff,
          n,
        ]);
      }
    }
  }

  private async drain(sql: string, params: unknown[]): Promise<void> {
    for (;;) {
      const { rowCount } = await this.client.query(sql, params);
      if ((rowCount ?? 0) < this.batchRows) return;
    }
  }
}
