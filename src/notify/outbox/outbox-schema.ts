import type Database from 'better-sqlite3';

/** The outbox's tables and prepared statements, kept apart from the logic that uses them. */
export class OutboxSchema {
  readonly insert: Database.Statement;
  readonly next: Database.Statement;
  readonly settle: Database.Statement;
  readonly fail: Database.Statement;
  readonly attempt: Database.Statement;
  readonly attempts: Database.Statement;
  readonly counts: Database.Statement;
  readonly dead: Database.Statement;
  readonly byEventId: Database.Statement;
  readonly setEndpointState: Database.Statement;
  readonly pruneSettled: Database.Statement;
  readonly prunePendingOf: Database.Statement;
  readonly attemptEndpoints: Database.Statement;
  readonly attemptCutoff: Database.Statement;
  readonly pruneAttemptsOf: Database.Statement;
  readonly endpointsWithRows: Database.Statement;
  readonly lastAttempt: Database.Statement;
  readonly disabledEndpoints: Database.Statement;
  readonly failingSince: Database.Statement;
  readonly probe: Database.Statement;
  readonly intend: Database.Statement;
  readonly forget: Database.Statement;
  readonly intents: Database.Statement;

  constructor(db: Database.Database) {
    db.exec(`
      CREATE TABLE IF NOT EXISTS events (
        seq         INTEGER PRIMARY KEY AUTOINCREMENT,
        endpoint    TEXT    NOT NULL,
        event_id    TEXT    NOT NULL,
        payload     TEXT    NOT NULL,
        enqueued_at INTEGER NOT NULL,
        attempts    INTEGER NOT NULL DEFAULT 0,
        state       INTEGER NOT NULL DEFAULT 0,
        settled_at  INTEGER,
        last_status INTEGER,
        last_error  TEXT
      );
      CREATE INDEX IF NOT EXISTS events_by_endpoint ON events (endpoint, state, seq);
      CREATE INDEX IF NOT EXISTS events_by_id ON events (endpoint, event_id);
      -- Pruning finds settled rows by age without scanning the table (added later: IF NOT EXISTS
      -- makes it a migration of an older outbox file, built once at start-up).
      CREATE INDEX IF NOT EXISTS events_by_settled ON events (state, settled_at);
      CREATE TABLE IF NOT EXISTS attempts (
        id         INTEGER PRIMARY KEY AUTOINCREMENT,
        endpoint   TEXT    NOT NULL,
        event_ids  TEXT    NOT NULL,
        at         INTEGER NOT NULL,
        status     INTEGER,
        latency_ms REAL    NOT NULL,
        error      TEXT,
        response   TEXT
      );
      CREATE INDEX IF NOT EXISTS attempts_by_endpoint ON attempts (endpoint, id);
      CREATE TABLE IF NOT EXISTS endpoint_state (
        endpoint TEXT PRIMARY KEY,
        disabled INTEGER NOT NULL,
        reason   TEXT
      );
      -- Changes under way (change-intent.ts): a row lives from just before a storage change until
      -- its events are queued in the same transaction that deletes it; start-up reconciles the rest.
      CREATE TABLE IF NOT EXISTS intents (
        id     TEXT    PRIMARY KEY,
        at     INTEGER NOT NULL,
        record TEXT    NOT NULL
      );
      -- Ed25519 keys of v1a signatures generated for endpoints (signing-keys.ts): made once, by
      -- whichever process starts first, so every process on this outbox signs with the same key.
      CREATE TABLE IF NOT EXISTS signing_keys (
        endpoint   TEXT    PRIMARY KEY,
        secret     TEXT    NOT NULL,
        created_at INTEGER NOT NULL
      );
      -- Endpoints created through the operator API (runtime/endpoint-store.ts), beside the config's:
      -- the definition as given (config.yml's keys, JSON), parsed again at every start.
      CREATE TABLE IF NOT EXISTS runtime_endpoints (
        name       TEXT    PRIMARY KEY,
        definition TEXT    NOT NULL,
        inbox      INTEGER NOT NULL DEFAULT 0,
        draining   INTEGER NOT NULL DEFAULT 0,
        updated_at INTEGER NOT NULL
      );
      CREATE TABLE IF NOT EXISTS probe (
        id INTEGER PRIMARY KEY CHECK (id = 1),
        at INTEGER NOT NULL
      );
    `);
    this.insert = db.prepare('INSERT INTO events (endpoint, event_id, payload, enqueued_at) VALUES (?, ?, ?, ?)');
    this.next = db.prepare(
      'SELECT seq, payload, attempts, enqueued_at FROM events WHERE endpoint = ? AND state = ? AND seq > ? ORDER BY seq LIMIT ?',
    );
    this.settle = db.prepare('UPDATE events SET state = ?, settled_at = ?, last_status = ?, last_error = ? WHERE seq = ?');
    this.fail = db.prepare('UPDATE events SET attempts = attempts + 1, last_status = ?, last_error = ? WHERE seq = ?');
    this.attempt = db.prepare(
      'INSERT INTO attempts (endpoint, event_ids, at, status, latency_ms, error, response) VALUES (?, ?, ?, ?, ?, ?, ?)',
    );
    this.attempts = db.prepare(
      'SELECT event_ids, at, status, latency_ms, error, response FROM attempts WHERE endpoint = ? ORDER BY id DESC LIMIT ?',
    );
    this.counts = db.prepare('SELECT state, COUNT(*) AS n FROM events WHERE endpoint = ? GROUP BY state');
    this.dead = db.prepare(
      'SELECT seq, payload, attempts, enqueued_at, last_error, last_status FROM events WHERE endpoint = ? AND state = ? ORDER BY seq LIMIT ?',
    );
    this.byEventId = db.prepare(
      'SELECT seq, payload, state FROM events WHERE endpoint = ? AND event_id = ? ORDER BY seq DESC LIMIT 1',
    );
    this.setEndpointState = db.prepare(
      'INSERT INTO endpoint_state (endpoint, disabled, reason) VALUES (?, ?, ?) ON CONFLICT (endpoint) DO UPDATE SET disabled = excluded.disabled, reason = excluded.reason',
    );
    this.disabledEndpoints = db.prepare('SELECT endpoint, reason FROM endpoint_state WHERE disabled = 1');
    this.lastAttempt = db.prepare('SELECT status FROM attempts WHERE endpoint = ? ORDER BY id DESC LIMIT 1');
    this.failingSince = db.prepare(
      `SELECT MIN(at) AS at FROM attempts WHERE endpoint = ? AND id > COALESCE(
         (SELECT MAX(id) FROM attempts WHERE endpoint = ? AND status BETWEEN 200 AND 299), 0)`,
    );
    this.intend = db.prepare('INSERT OR REPLACE INTO intents (id, at, record) VALUES (?, ?, ?)');
    this.forget = db.prepare('DELETE FROM intents WHERE id = ?');
    this.intents = db.prepare('SELECT record FROM intents ORDER BY at, rowid');
    this.probe = db.prepare('INSERT INTO probe (id, at) VALUES (1, ?) ON CONFLICT (id) DO UPDATE SET at = excluded.at');
    // Pruning goes in batches of `LIMIT ?` rows: each statement is short, and writes queued
    // meanwhile are committed between two batches.
    this.pruneSettled = db.prepare(
      'DELETE FROM events WHERE seq IN (SELECT seq FROM events WHERE state = ? AND settled_at < ? LIMIT ?)',
    );
    this.prunePendingOf = db.prepare(
      'DELETE FROM events WHERE seq IN (SELECT seq FROM events WHERE endpoint = ? AND state = ? AND enqueued_at < ? LIMIT ?)',
    );
    this.attemptEndpoints = db.prepare('SELECT DISTINCT endpoint FROM attempts');
    this.attemptCutoff = db.prepare('SELECT id FROM attempts WHERE endpoint = ? ORDER BY id DESC LIMIT 1 OFFSET ?');
    this.pruneAttemptsOf = db.prepare(
      'DELETE FROM attempts WHERE id IN (SELECT id FROM attempts WHERE endpoint = ? AND id <= ? ORDER BY id LIMIT ?)',
    );
    // DISTINCT would read the whole index; this hops from one endpoint to the next through it.
    this.endpointsWithRows = db.prepare(
      `WITH RECURSIVE e (endpoint) AS (
         SELECT MIN(endpoint) FROM events
         UNION ALL SELECT (SELECT MIN(endpoint) FROM events WHERE endpoint > e.endpoint) FROM e WHERE e.endpoint IS NOT NULL
       ) SELECT endpoint FROM e WHERE endpoint IS NOT NULL`,
    );
  }
}
