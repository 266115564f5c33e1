import Database from 'better-sqlite3';
import { generateSigningKey } from '../delivery/signing.ts';
import type { EndpointOptions } from '../options.ts';

/**
 * The Ed25519 keys generated for endpoints (`signing: {ed25519: true}`), kept with the outbox so
 * that every process delivering from it signs with the same key, and a restart keeps the public
 * key consumers were given. Async, so a store on a server (PostgreSQL) fits behind it.
 */
export interface SigningKeyStore {
  /** The endpoint's private key (`whsk_...`): the one kept, or a new one kept now if there is none. */
  ensure(endpoint: string): Promise<string>;
}

/**
 * In the SQLite outbox file (table `signing_keys`, made by OutboxSchema). Two processes starting
 * at once on one file agree: the first insert wins and both read it back.
 */
export class SqliteSigningKeyStore implements SigningKeyStore {
  private readonly db: Database.Database;
  private readonly insert: Database.Statement;
  private readonly select: Database.Statement;

  /** `file` has been created by createOutbox (outbox-reader.ts). */
  constructor(file: string) {
    this.db = new Database(file);
    this.db.pragma('busy_timeout = 5000');
    this.insert = this.db.prepare('INSERT INTO signing_keys (endpoint, secret, created_at) VALUES (?, ?, ?) ON CONFLICT (endpoint) DO NOTHING');
    this.select = this.db.prepare('SELECT secret FROM signing_keys WHERE endpoint = ?');
  }

  async ensure(endpoint: string): Promise<string> {
    this.insert.run(endpoint, generateSigningKey(), Date.now());
    return (this.select.get(endpoint) as { secret: string }).secret;
  }


  close(): void {
    this.db.close();
  }
}

/** The endpoints with every `generate` replaced by the key `keyOf` keeps for it; the rest unchanged. */
export function withSigningKeys(endpoints: EndpointOptions[], keyOf: (endpoint: string) => string): EndpointOptions[] {
  return endpoints.map((e) => (e.ed25519 === 'generate' ? { ...e, ed25519: { privateKey: keyOf(e.name) } } : e));
}

/**
 * The endpoints with their generated keys resolved, by the delivery thread as it starts (it is the
 * one that signs, and `GET /notifications/endpoints` shows the public keys it holds). The store is
 * opened only when some endpoint has a key to generate.
 */
export async function resolveSigningKeys(
  endpoints: EndpointOptions[],
  open: () => SigningKeyStore & { close(): void | Promise<void> },
): Promise<EndpointOptions[]> {
  if (!endpoints.some((e) => e.ed25519 === 'generate')) return endpoints;
  const store = open();
  try {
    const keys = new Map<string, string>();
    for (const e of endpoints) if (e.ed25519 === 'generate') keys.set(e.name, await store.ensure(e.name));
    return withSigningKeys(endpoints, (name) => keys.get(name)!);
  } finally {
    await store.close();
  }
}
