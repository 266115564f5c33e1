import type pg from 'pg';
import { EventState, type OpResult, type OutboxOp, type QueuedRow } from '../protocol.ts';
import { CHANNEL, LockSpace, SCHEMA } from './pg-schema.ts';

const E = `${SCHEMA}.events`;
/** The ops that many requests send at once, applied a run at a time (PgWrites.bulk). */
const BULK = new Set<OutboxOp['t']>(['insert', 'confirm', 'intend']);

/**
 * Retained events by range (protocol.ts EventRange), on the event's own timestamp, as text (ISO
 * 8601 in UTC); parameters from $n: since, until, repository, action.
 */
export function PG_RANGE(n: number): string {
  const p = (i: number) => `$${n + i}`;
  return `(payload::jsonb ->> 'timestamp') >= ${p(0)} AND (payload::jsonb ->> 'timestamp') < ${p(1)}
    AND (${p(2)}::text IS NULL OR payload::jsonb -> 'target' ->> 'repository' = ${p(2)})
    AND (${p(3)}::text IS NULL OR payload::jsonb ->> 'action' = ${p(3)})`;
}

/**
 * The endpoints whose delivery a group of ops concerns: new events, or a changed state (an
 * operator's enable). Their holder is woken, on whichever replica it runs.
 */
export function endpointsToWake(ops: OutboxOp[]): string[] {
  const endpoints = new Set<string>();
  for (const op of ops) {
    if (op.t === 'insert' || op.t === 'redeliver' || op.t === 'replay' || op.t === 'endpointState') endpoints.add(op.endpoint);
    else if (op.t === 'confirm') for (const row of op.rows) endpoints.add(row.endpoint);
  }
  return [...endpoints];
}

/**
 * Applies the outbox's ops (protocol.ts) to PostgreSQL, one group per transaction: the same
 * writes the SQLite writer makes, on the shared tables.
 *
 * Order across replicas: a delivery worker reads an endpoint's events by seq, after the last one
 * it delivered. A seq is taken at INSERT and becomes visible at COMMIT, so without care a lower
 * seq could commit after a higher one was read, and be skipped. Every transaction that queues
 * events therefore first takes one transaction-scoped advisory lock: seqs are handed out and
 * committed in the same order, on every replica. Group commit keeps what that costs per request small.
 */
export class PgWrites {
  constructor(
    private readonly client: pg.ClientBase,
    /** This replica's owner id, written on its intents. */
    private readonly owner: string,
  ) {}

  /** Commits the group; one result per op (redeliver: whether the event was found). */
  async commit(ops: OutboxOp[], durable: boolean): Promise<OpResult[]> {
    const c = this.client;
    const now = Date.now();
    const woken = endpointsToWake(ops);
    const queues = ops.some((op) => op.t === 'insert' || op.t === 'redeliver' || op.t === 'replay' || (op.t === 'confirm' && op.rows.length > 0));
    await c.query('BEGIN');
    try {
      // Events and intents must be on disk before the client's answer; bookkeeping may lag a
      // crash (a lost acknowledgement is a redelivery), as SQLite's synchronous=NORMAL.
      if (!durable) await c.query('SET LOCAL synchronous_commit = off');
      if (queues) await c.query('SELECT pg_advisory_xact_lock($1, 0)', [LockSpace.events]);
      const results: OpResult[] = [];
      for (let i = 0; i < ops.length; ) {
        // A run of intents, confirms or inserts (many requests' writes in one group) goes as one
        // statement or two: round trips, not rows, are what a commit costs here.
        const t = ops[i]!.t;
        let j = i + 1;
        if (BULK.has(t)) while (j < ops.length && ops[j]!.t === t) j++;
        if (j - i > 1) {
          await this.bulk(ops.slice(i, j), now);
          for (let k = i; k < j; k++) results.push(null);
        } else {
          results.push(await this.apply(ops[i]!, now));
        }
        i = j;
      }
      if (woken.length > 0) await c.query('SELECT pg_notify($1, $2)', [CHANNEL, JSON.stringify(woken)]);
      await c.query('COMMIT');
      return results;
    } catch (err) {
      await c.query('ROLLBACK').catch(() => undefined);
      throw err;
    }
  }

  private async apply(op: OutboxOp, now: number): Promise<OpResult> {
    const c = this.client;
    switch (op.t) {
      case 'insert':
        await this.insert([op], now);
        return null;
      case 'intend':
        await c.query(
          `INSERT INTO ${SCHEMA}.intents (id, owner, at, record) VALUES ($1, $2, $3, $4)
           ON CONFLICT (id) DO UPDATE SET owner = excluded.owner, at = excluded.at, record = excluded.record`,
          [op.id, this.owner, op.at, op.record],
        );
        return null;
      case 'confirm':
        await this.insert(op.rows, now);
        await c.query(`DELETE FROM ${SCHEMA}.intents WHERE id = $1`, [op.id]);
        return null;
      case 'settle':
        await c.query(`UPDATE ${E} SET state = $1, settled_at = $2, last_status = $3, last_error = $4 WHERE seq = ANY($5)`, [
          op.state,
          op.at,
          op.status,
          op.error,
          op.seqs,
        ]);
        return null;
      case 'fail':
        await c.query(`UPDATE ${E} SET attempts = attempts + 1, last_status = $1, last_error = $2 WHERE seq = ANY($3)`, [
          op.status,
          op.error,
          op.seqs,
        ]);
        return null;
      case 'attempt':
        await c.query(
          `INSERT INTO ${SCHEMA}.attempts (endpoint, event_ids, at, status, latency_ms, error, response) VALUES ($1, $2, $3, $4, $5, $6, $7)`,
          [op.endpoint, op.eventIds, op.at, op.status, op.latencyMs, op.error, op.response],
        );
        return null;
      case 'redeliver': {
        const { rows } = await c.query<{ seq: number; payload: string; state: number }>(
          `SELECT seq, payload, state FROM ${E} WHERE endpoint = $1 AND event_id = $2 ORDER BY seq DESC LIMIT 1`,
          [op.endpoint, op.eventId],
        );
        const row = rows[0];
        if (!row) return false;
        if (row.state === EventState.Dead) {
          await c.query(`UPDATE ${E} SET state = $1, settled_at = $2, last_error = 'requeued by redelivery' WHERE seq = $3`, [
            EventState.Requeued,
            now,
            row.seq,
          ]);
        }
        await this.insert([{ endpoint: op.endpoint, eventId: op.eventId, payload: row.payload }], now);
        return true;
      }
      case 'replay': {
        const { rows } = await c.query<{ seq: number; event_id: string }>(
          `SELECT MIN(seq) AS seq, event_id FROM ${E} WHERE endpoint = $1 AND ${PG_RANGE(2)}
           GROUP BY event_id HAVING SUM(CASE WHEN state = ${EventState.Pending} THEN 1 ELSE 0 END) = 0 ORDER BY MIN(seq)`,
          [op.endpoint, op.since, op.until, op.repository, op.action],
        );
        if (rows.length === 0) return 0;
        await c.query(
          `INSERT INTO ${E} (endpoint, event_id, payload, enqueued_at)
           SELECT endpoint, event_id, payload, $2 FROM ${E} JOIN unnest($1::bigint[]) WITH ORDINALITY AS r (s, n) ON seq = r.s ORDER BY r.n`,
          [rows.map((r) => r.seq), now],
        );
        await c.query(
          `UPDATE ${E} SET state = ${EventState.Requeued}, settled_at = $1, last_error = 'requeued by replay'
           WHERE endpoint = $2 AND event_id = ANY($3) AND state = ${EventState.Dead}`,
          [now, op.endpoint, rows.map((r) => r.event_id)],
        );
        return rows.length;
      }
      case 'endpointState':
        await c.query(
          `INSERT INTO ${SCHEMA}.endpoint_state (endpoint, disabled, reason) VALUES ($1, $2, $3)
           ON CONFLICT (endpoint) DO UPDATE SET disabled = excluded.disabled, reason = excluded.reason`,
          [op.endpoint, op.disabled, op.reason],
        );
        return null;
      case 'probe':
        await c.query(
          `INSERT INTO ${SCHEMA}.probe (owner, at) VALUES ($1, $2) ON CONFLICT (owner) DO UPDATE SET at = excluded.at`,
          [this.owner, now],
        );
        return null;
      case 'prune': // upkeep runs after the commit (pg-upkeep.ts)
      case 'barrier':
        return null;
    }
  }

  /** A run of ops of one bulk kind, in order, in as few statements as it takes. */
  private async bulk(run: OutboxOp[], now: number): Promise<void> {
    const c = this.client;
    const t = run[0]!.t;
    if (t === 'insert') {
      await this.insert(run as QueuedRow[], now);
    } else if (t === 'confirm') {
      const confirms = run as Extract<OutboxOp, { t: 'confirm' }>[];
      await this.insert(confirms.flatMap((op) => op.rows), now);
      await c.query(`DELETE FROM ${SCHEMA}.intents WHERE id = ANY($1)`, [confirms.map((op) => op.id)]);
    } else if (t === 'intend') {
      const intents = run as Extract<OutboxOp, { t: 'intend' }>[];
      await c.query(
        `INSERT INTO ${SCHEMA}.intents (id, owner, at, record)
         SELECT id, $1, at, record FROM unnest($2::text[], $3::bigint[], $4::text[]) AS r (id, at, record)
         ON CONFLICT (id) DO UPDATE SET owner = excluded.owner, at = excluded.at, record = excluded.record`,
        [this.owner, intents.map((op) => op.id), intents.map((op) => op.at), intents.map((op) => op.record)],
      );
    }
  }

  /** Rows in one statement, seqs in the order given. */
  private async insert(rows: QueuedRow[], now: number): Promise<void> {
    if (rows.length === 0) return;
    await this.client.query(
      `INSERT INTO ${E} (endpoint, event_id, payload, enqueued_at)
       SELECT endpoint, event_id, payload, $4 FROM unnest($1::text[], $2::text[], $3::text[]) WITH ORDINALITY AS r (endpoint, event_id, payload, n)
       ORDER BY n`,
      [rows.map((r) => r.endpoint), rows.map((r) => r.eventId), rows.map((r) => r.payload), now],
    );
  }
}
