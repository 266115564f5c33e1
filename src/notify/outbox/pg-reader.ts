import pg from 'pg';
import type { PostgresOutboxOptions } from '../options.ts';
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
import { pgClientConfig, SCHEMA } from './pg-schema.ts';
import { PG_RANGE } from './pg-writes.ts';

const E = `${SCHEMA}.events`;
const A = `${SCHEMA}.attempts`;

/** The delivery thread's reads of the shared outbox, on a small pool of its own. */
export class PgReader implements OutboxReads {
  private readonly pool: pg.Pool;

  constructor(options: PostgresOutboxOptions) {
    this.pool = new pg.Pool({ ...pgClientConfig(options, 'dockyard-outbox-reader'), max: 4 });
    this.pool.on('error', () => undefined); // an idle client lost: the next query gets a new one
  }

  async next(endpoint: string, afterSeq: number, limit: number): Promise<QueuedEvent[]> {
    const { rows } = await this.pool.query<EventRow>(
      `SELECT seq, payload, attempts, enqueued_at FROM ${E} WHERE endpoint = $1 AND state = $2 AND seq > $3 ORDER BY seq LIMIT $4`,
      [endpoint, EventState.Pending, afterSeq, limit],
    );
    return rows.map((r) => queued(endpoint, r));
  }

  async disabledEndpoints(): Promise<Map<string, string | null>> {
    const { rows } = await this.pool.query<{ endpoint: string; reason: string | null }>(
      `SELECT endpoint, reason FROM ${SCHEMA}.endpoint_state WHERE disabled`,
    );
    return new Map(rows.map((r) => [r.endpoint, r.reason]));
  }

  async recentAttempts(endpoint: string, limit: number): Promise<AttemptRecord[]> {
    const { rows } = await this.pool.query<AttemptRow>(
      `SELECT event_ids, at, status, latency_ms, error, response FROM ${A} WHERE endpoint = $1 ORDER BY id DESC LIMIT $2`,
      [endpoint, limit],
    );
    return rows.map((r) => attemptRecord(endpoint, r));
  }

  async health(endpoint: string): Promise<{ lastStatus: number | null; failingSince: number | null }> {
    const last = await this.pool.query<{ status: number | null }>(`SELECT status FROM ${A} WHERE endpoint = $1 ORDER BY id DESC LIMIT 1`, [
      endpoint,
    ]);
    const row = last.rows[0];
    if (!row) return { lastStatus: null, failingSince: null };
    if (row.status !== null && row.status >= 200 && row.status < 300) return { lastStatus: row.status, failingSince: null };
    const since = await this.pool.query<{ at: number | null }>(
      `SELECT MIN(at) AS at FROM ${A} WHERE endpoint = $1 AND id > COALESCE(
         (SELECT MAX(id) FROM ${A} WHERE endpoint = $1 AND status BETWEEN 200 AND 299), 0)`,
      [endpoint],
    );
    return { lastStatus: row.status, failingSince: since.rows[0]?.at ?? null };
  }

  async endpointsWithRows(): Promise<string[]> {
    // A loose index scan, as in SQLite: hops from one endpoint to the next through the index.
    const { rows } = await this.pool.query<{ endpoint: string }>(
      `WITH RECURSIVE e (endpoint) AS (
         SELECT MIN(endpoint) FROM ${E}
         UNION ALL SELECT (SELECT MIN(endpoint) FROM ${E} WHERE endpoint > e.endpoint) FROM e WHERE e.endpoint IS NOT NULL
       ) SELECT endpoint FROM e WHERE endpoint IS NOT NULL`,
    );
    return rows.map((r) => r.endpoint);
  }

  async counts(endpoint: string): Promise<EndpointCounts> {
    const out: EndpointCounts = { pending: 0, delivered: 0, dead: 0 };
    const { rows } = await this.pool.query<{ state: number; n: number }>(
      `SELECT state, COUNT(*)::int AS n FROM ${E} WHERE endpoint = $1 GROUP BY state`,
      [endpoint],
    );
    for (const row of rows) {
      if (row.state === EventState.Pending) out.pending = row.n;
      else if (row.state === EventState.Delivered) out.delivered = row.n;
      else if (row.state === EventState.Dead) out.dead = row.n;
    }
    return out;
  }

  async deadLetters(endpoint: string, limit: number): Promise<DeadLetter[]> {
    const { rows } = await this.pool.query<EventRow & { last_error: string | null; last_status: number | null }>(
      `SELECT seq, payload, attempts, enqueued_at, last_error, last_status FROM ${E} WHERE endpoint = $1 AND state = $2 ORDER BY seq LIMIT $3`,
      [endpoint, EventState.Dead, limit],
    );
    return rows.map((r) => ({ ...queued(endpoint, r), error: r.last_error, status: r.last_status }));
  }

  async events(range: EventRange, limit: number): Promise<Event[]> {
    const { rows } = await this.pool.query<{ payload: string }>(
      `SELECT payload FROM ${E} WHERE seq IN (SELECT MIN(seq) FROM ${E} WHERE ${PG_RANGE(1)} GROUP BY event_id) ORDER BY seq LIMIT $5`,
      [range.since, range.until, range.repository, range.action, limit],
    );
    return rows.map((r) => JSON.parse(r.payload) as Event);
  }

  async close(): Promise<void> {
    await this.pool.end();
  }
}
