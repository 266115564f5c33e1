import pg from 'pg';
import { generateSigningKey } from '../delivery/signing.ts';
import type { PostgresOutboxOptions } from '../options.ts';
import { pgClientConfig, SCHEMA } from './pg-schema.ts';
import type { SigningKeyStore } from './signing-keys.ts';

/**
 * Generated Ed25519 keys in the shared outbox (table `signing_keys`): replicas starting at once
 * agree, since the first insert wins and every one reads back the same key.
 */
export class PgSigningKeyStore implements SigningKeyStore {
  private readonly client: pg.Client;
  private connected: Promise<unknown> | null = null;

  constructor(options: PostgresOutboxOptions) {
    this.client = new pg.Client(pgClientConfig(options, 'dockyard-signing-keys'));
  }

  async ensure(endpoint: string): Promise<string> {
    this.connected ??= this.client.connect();
    await this.connected;
    await this.client.query(
      `INSERT INTO ${SCHEMA}.signing_keys (endpoint, secret, created_at) VALUES ($1, $2, $3) ON CONFLICT (endpoint) DO NOTHING`,
      [endpoint, generateSigningKey(), Date.now()],
    );
    const { rows } = await this.client.query<{ secret: string }>(`SELECT secret FROM ${SCHEMA}.signing_keys WHERE endpoint = $1`, [endpoint]);
    return rows[0]!.secret;
  }

  async close(): Promise<void> {
    if (this.connected) await this.client.end().catch(() => undefined);
  }
}
