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
  readonly pruneDelivered: Database.Statement;
  readonly pruneAttempts: Database.Statement;
  readonly lastAttempt: Database.Statement;
  readonly disabledEndpoints: Database.Statement;
  readonly failingSince: Database.Statement;

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
    this.pruneDelivered = db.prepare('DELETE FROM events WHERE state IN (?, ?) AND settled_at < ?');
    this.pruneAttempts = db.prepare(
      'DELETE FROM attempts WHERE id IN (SELECT id FROM (SELECT id, ROW_NUMBER() OVER (PARTITION BY endpoint ORDER BY id DESC) AS rn FROM attempts) WHERE rn > ?)',
    );
  }
}
