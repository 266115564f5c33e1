import pg from 'pg';
import type { PostgresOutboxOptions } from '../options.ts';

/**
 * The shared outbox's tables in PostgreSQL, in a schema of their own (`dockyard`). The same
 * tables as the SQLite outbox (outbox-schema.ts), plus the owner of each intent: several
 * replicas write here, and only a dead replica's intents are another's to reconcile.
 * Times are epoch milliseconds, as in SQLite, so rows read the same from either.
 */
export const SCHEMA = 'dockyard';

/** Advisory-lock namespaces (the first key of the two-key form); the second key is hashtext(name). */
export const LockSpace = {
  /** Held while the schema is migrated: whichever replica starts first migrates, the others wait. */
  migrate: 0x446b_0001,
  /** Held in every transaction that queues events, from before its rows take their seq to its commit. */
  events: 0x446b_0002,
  /** Held by the replica delivering an endpoint, for as long as its session lives. */
  endpoint: 0x446b_0003,
  /** Held by a live replica on its own owner id: a free one means its intents are orphans. */
  owner: 0x446b_0004,
} as const;

/** The NOTIFY channel: its payload is the JSON list of endpoints that got events. */
export const CHANNEL = 'dockyard_outbox';

/** Each migration runs once, in order; `version` records how far a database is. */
const MIGRATIONS: string[] = [
  `CREATE TABLE ${SCHEMA}.events (
     seq         BIGSERIAL PRIMARY KEY,
     endpoint    TEXT     NOT NULL,
     event_id    TEXT     NOT NULL,
     payload     TEXT     NOT NULL,
     enqueued_at BIGINT   NOT NULL,
     attempts    INTEGER  NOT NULL DEFAULT 0,
     state       SMALLINT NOT NULL DEFAULT 0,
     settled_at  BIGINT,
     last_status INTEGER,
     last_error  TEXT
   );
   CREATE INDEX events_by_endpoint ON ${SCHEMA}.events (endpoint, state, seq);
   CREATE INDEX events_by_id ON ${SCHEMA}.events (endpoint, event_id);
   CREATE INDEX events_by_settled ON ${SCHEMA}.events (state, settled_at);
   CREATE TABLE ${SCHEMA}.attempts (
     id         BIGSERIAL PRIMARY KEY,
     endpoint   TEXT    NOT NULL,
     event_ids  TEXT    NOT NULL,
     at         BIGINT  NOT NULL,
     status     INTEGER,
     latency_ms DOUBLE PRECISION NOT NULL,
     error      TEXT,
     response   TEXT
   );
   CREATE INDEX attempts_by_endpoint ON ${SCHEMA}.attempts (endpoint, id);
   CREATE TABLE ${SCHEMA}.endpoint_state (
     endpoint TEXT PRIMARY KEY,
     disabled BOOLEAN NOT NULL,
     reason   TEXT
   );
   CREATE TABLE ${SCHEMA}.intents (
     id     TEXT   PRIMARY KEY,
     owner  TEXT   NOT NULL,
     at     BIGINT NOT NULL,
     record TEXT   NOT NULL
   );
   CREATE INDEX intents_by_owner ON ${SCHEMA}.intents (owner, at);
   CREATE TABLE ${SCHEMA}.probe (
     owner TEXT PRIMARY KEY,
     at    BIGINT NOT NULL
   );`,
  // Ed25519 keys generated for endpoints (signing-keys.ts): one per endpoint, every replica signs with it.
  `CREATE TABLE ${SCHEMA}.signing_keys (
     endpoint   TEXT   PRIMARY KEY,
     secret     TEXT   NOT NULL,
     created_at BIGINT NOT NULL
   );`,
  // Endpoints created through the operator API (runtime/pg-endpoint-store.ts); every change bumps
  // `revision`, which each replica polls to pick it up.
  `CREATE TABLE ${SCHEMA}.runtime_endpoints (
     name       TEXT    PRIMARY KEY,
     definition TEXT    NOT NULL,
     inbox      BOOLEAN NOT NULL DEFAULT false,
     draining   BOOLEAN NOT NULL DEFAULT false,
     updated_at BIGINT  NOT NULL
   );
   CREATE TABLE ${SCHEMA}.runtime_endpoints_revision (
     id       INTEGER PRIMARY KEY CHECK (id = 1),
     revision BIGINT  NOT NULL
   );
   INSERT INTO ${SCHEMA}.runtime_endpoints_revision (id, revision) VALUES (1, 0);`,
];

/** BIGINT columns (seq, epoch ms) as numbers: they stay far below 2^53. */
const INT8_AS_NUMBER = {
  getTypeParser: ((oid: number, format?: 'text' | 'binary') =>
    oid === 20 ? (value: string) => Number(value) : pg.types.getTypeParser(oid, format)) as typeof pg.types.getTypeParser,
};

/** A client for the outbox's database, with the options the config gave. */
export function pgClientConfig(options: PostgresOutboxOptions, applicationName: string): pg.ClientConfig {
  return {
    ...(options.url ? { connectionString: options.url } : {}),
    ...(options.ssl ? { ssl: options.ssl } : {}),
    application_name: applicationName,
    types: INT8_AS_NUMBER,
    keepAlive: true,
    connectionTimeoutMillis: options.connectTimeoutMs,
  };
}

/**
 * Creates or upgrades the schema, idempotently: the first replica to get the lock migrates,
 * the others find it done. Safe to call from every thread that opens the outbox.
 */
export async function migrate(client: pg.ClientBase): Promise<void> {
  await client.query('BEGIN');
  try {
    await client.query('SELECT pg_advisory_xact_lock($1, 0)', [LockSpace.migrate]);
    await client.query(`CREATE SCHEMA IF NOT EXISTS ${SCHEMA}`);
    await client.query(`CREATE TABLE IF NOT EXISTS ${SCHEMA}.version (id INTEGER PRIMARY KEY CHECK (id = 1), version INTEGER NOT NULL)`);
    const { rows } = await client.query<{ version: number }>(`SELECT version FROM ${SCHEMA}.version`);
    const at = rows[0]?.version ?? 0;
    for (let v = at; v < MIGRATIONS.length; v++) await client.query(MIGRATIONS[v]!);
    if (at < MIGRATIONS.length) {
      await client.query(
        `INSERT INTO ${SCHEMA}.version (id, version) VALUES (1, $1) ON CONFLICT (id) DO UPDATE SET version = excluded.version`,
        [MIGRATIONS.length],
      );
    }
    await client.query('COMMIT');
  } catch (err) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw err;
  }
}

/** The server of a connection, for messages: host, port and database, never the password. */
export function where(options: PostgresOutboxOptions): string {
  if (!options.url) return 'from PGHOST, PGPORT, PGDATABASE';
  try {
    const u = new URL(options.url);
    return `${u.hostname}:${u.port || 5432}${u.pathname}`;
  } catch {
    return 'the configured url';
  }
}

/** Connects (with the config's options) and migrates; the caller owns the client. */
export async function connectOutbox(options: PostgresOutboxOptions, applicationName: string): Promise<pg.Client> {
  const client = new pg.Client(pgClientConfig(options, applicationName));
  try {
    await client.connect();
  } catch (err) {
    throw new Error(`the PostgreSQL outbox (${where(options)}) cannot be reached: ${(err as Error).message}`, { cause: err });
  }
  try {
    await migrate(client);
  } catch (err) {
    await client.end().catch(() => undefined);
    throw err;
  }
  return client;
}
