import Database from 'better-sqlite3';
import { generateSigningKey } from '../delivery/signing.ts';
import type { EndpointOptions, NotifyOptions } from '../options.ts';

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
    return this.ensureNow(endpoint);
  }

  /**
   * ensure(), synchronously: better-sqlite3 is, and the notifier's constructor, which starts its
   * threads at once, resolves the keys before it does.
   */
  ensureNow(endpoint: string): string {
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
 * The notifier's endpoints with their generated keys resolved, on the main thread before any
 * thread starts (the delivery thread gets the keys as plain data in its options). Only the SQLite
 * outbox keeps keys so far: with PostgreSQL, a key to generate is refused until its store exists.
 */
export function resolveSigningKeys(options: NotifyOptions): EndpointOptions[] {
  const endpoints = options.endpoints;
  if (!endpoints.some((e) => e.ed25519 === 'generate')) return endpoints;
  if (options.outbox.postgres) {
    throw new Error('signing: {ed25519: true} needs a key store in the PostgreSQL outbox, not there yet: supply the key as whsk_...');
  }
  const store = new SqliteSigningKeyStore(options.outbox.file);
  try {
    return withSigningKeys(endpoints, (name) => store.ensureNow(name));
  } finally {
    store.close();
  }
}
