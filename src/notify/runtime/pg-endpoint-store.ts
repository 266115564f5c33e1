import type pg from 'pg';
import type { PostgresOutboxOptions } from '../options.ts';
import { connectOutbox, SCHEMA } from '../outbox/pg-schema.ts';
import { EventState } from '../protocol.ts';
import { LEFTOVER_TABLES, PURGED_TABLES, type RuntimeEndpointStore, type StoredEndpoint } from './endpoint-store.ts';

interface Row {
  name: string;
  definition: string;
  inbox: boolean;
  draining: boolean;
}

/**
 * In the shared PostgreSQL outbox: every write bumps `runtime_endpoints_revision` in its
 * transaction, which every replica polls (RuntimeEndpoints), so a change made on one replica is
 * picked up by all of them within a poll.
 */
export class PgEndpointStore implements RuntimeEndpointStore {
  private client: Promise<pg.Client> | null = null;

  constructor(private readonly options: PostgresOutboxOptions) {}

  /** One connection, made on first use and again after it broke. */
  private connection(): Promise<pg.Client> {
    if (!this.client) {
      const made = connectOutbox(this.options, 'dockyard-endpoints').then((c) => {
        c.on('error', () => {
          if (this.client === made) this.client = null;
          c.end().catch(() => undefined);
        });
        return c;
      });
      made.catch(() => {
        if (this.client === made) this.client = null;
      });
      this.client = made;
    }
    return this.client;
  }

  private async transaction(work: (c: pg.Client) => Promise<void>): Promise<void> {
    const c = await this.connection();
    await c.query('BEGIN');
    try {
      await work(c);
      await c.query(`UPDATE ${SCHEMA}.runtime_endpoints_revision SET revision = revision + 1 WHERE id = 1`);
      await c.query('COMMIT');
    } catch (err) {
      await c.query('ROLLBACK').catch(() => undefined);
      throw err;
    }
  }

  async revision(): Promise<number> {
    const { rows } = await (await this.connection()).query<{ revision: number }>(`SELECT revision FROM ${SCHEMA}.runtime_endpoints_revision WHERE id = 1`);
    return rows[0]?.revision ?? 0;
  }

  async list(): Promise<StoredEndpoint[]> {
    const { rows } = await (await this.connection()).query<Row>(`SELECT name, definition, inbox, draining FROM ${SCHEMA}.runtime_endpoints ORDER BY name`);
    return rows.map((r) => ({ name: r.name, definition: JSON.parse(r.definition) as Record<string, unknown>, inbox: r.inbox, draining: r.draining }));
  }

  async insert(e: StoredEndpoint): Promise<boolean> {
    let inserted = false;
    await this.transaction(async (c) => {
      const res = await c.query(
        `INSERT INTO ${SCHEMA}.runtime_endpoints (name, definition, inbox, draining, updated_at) VALUES ($1, $2, $3, $4, $5) ON CONFLICT (name) DO NOTHING`,
        [e.name, JSON.stringify(e.definition), e.inbox, e.draining, Date.now()],
      );
      inserted = res.rowCount === 1;
    });
    return inserted;
  }

  async update(e: StoredEndpoint): Promise<void> {
    await this.transaction(async (c) => {
      await c.query(`UPDATE ${SCHEMA}.runtime_endpoints SET definition = $2, inbox = $3, draining = $4, updated_at = $5 WHERE name = $1`, [
        e.name,
        JSON.stringify(e.definition),
        e.inbox,
        e.draining,
        Date.now(),
      ]);
    });
  }

  async pending(name: string): Promise<number> {
    const { rows } = await (await this.connection()).query<{ n: string }>(
      `SELECT COUNT(*) AS n FROM ${SCHEMA}.events WHERE endpoint = $1 AND state = $2`,
      [name, EventState.Pending],
    );
    return Number(rows[0]?.n ?? 0);
  }

  async hasEvents(name: string): Promise<boolean> {
    const { rows } = await (await this.connection()).query(`SELECT 1 FROM ${SCHEMA}.events WHERE endpoint = $1 LIMIT 1`, [name]);
    return rows.length > 0;
  }

  async purge(name: string): Promise<void> {
    await this.transaction(async (c) => {
      for (const [table, column] of PURGED_TABLES) await c.query(`DELETE FROM ${SCHEMA}.${table} WHERE ${column} = $1`, [name]);
    });
  }

  async purgeLeftovers(name: string): Promise<void> {
    const c = await this.connection();
    for (const [table, column] of LEFTOVER_TABLES) {
      await c.query(`DELETE FROM ${SCHEMA}.${table} WHERE ${column} = $1 AND NOT EXISTS (SELECT 1 FROM ${SCHEMA}.runtime_endpoints WHERE name = $1)`, [name]);
    }
  }

  async close(): Promise<void> {
    const client = this.client;
    this.client = null;
    const c = await client?.catch(() => null);
    await c?.end().catch(() => undefined);
  }
}
