import type pg from 'pg';
import type { IntentRecord } from '../events/change-intent.ts';
import type { PostgresOutboxOptions } from '../options.ts';
import { connectOutbox, LockSpace, SCHEMA } from './pg-schema.ts';

/**
 * A replica's claim on its intents in the shared outbox. Each process writes its intents under an
 * owner id of its own and holds a session advisory lock on that id for as long as it lives, on
 * this connection. An owner whose lock is free is dead (killed, or gone for good): its intents
 * are orphans, and the first replica to take the lock settles them with the store, as a restart
 * settles its own with the embedded outbox. So a replica that never comes back loses nothing.
 */
export class PgOwnership {
  private constructor(
    private readonly client: pg.Client,
    readonly owner: string,
  ) {}

  static async claim(options: PostgresOutboxOptions, owner: string): Promise<PgOwnership> {
    const client = await connectOutbox(options, 'dockyard-owner');
    client.on('error', () => undefined); // a lost session shows as failing sweeps; the process goes on
    await client.query('SET tcp_keepalives_idle = 5; SET tcp_keepalives_interval = 2; SET tcp_keepalives_count = 3');
    await client.query('SELECT pg_advisory_lock($1, hashtext($2))', [LockSpace.owner, owner]);
    return new PgOwnership(client, owner);
  }

  /**
   * Settles the intents of every dead owner, one owner at a time, holding its lock meanwhile so
   * that no other replica settles the same ones. Returns how many were settled.
   */
  async adoptOrphans(settle: (records: IntentRecord[]) => Promise<void>): Promise<number> {
    const { rows: owners } = await this.client.query<{ owner: string }>(
      `SELECT DISTINCT owner FROM ${SCHEMA}.intents WHERE owner <> $1`,
      [this.owner],
    );
    let settled = 0;
    for (const { owner } of owners) {
      const { rows } = await this.client.query<{ ok: boolean }>('SELECT pg_try_advisory_lock($1, hashtext($2)) AS ok', [
        LockSpace.owner,
        owner,
      ]);
      if (!rows[0]?.ok) continue; // alive, or being adopted by another replica
      try {
        const { rows: intents } = await this.client.query<{ record: string }>(
          `SELECT record FROM ${SCHEMA}.intents WHERE owner = $1 ORDER BY at, id`,
          [owner],
        );
        const records = intents.map((r) => JSON.parse(r.record) as IntentRecord);
        if (records.length > 0) await settle(records);
        settled += records.length;
      } finally {
        await this.client.query('SELECT pg_advisory_unlock($1, hashtext($2))', [LockSpace.owner, owner]);
      }
    }
    return settled;
  }

  async close(): Promise<void> {
    await this.client.end().catch(() => undefined);
  }
}
