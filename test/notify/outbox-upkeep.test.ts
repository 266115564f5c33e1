import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { pino } from 'pino';
import { EventState } from '../../src/notify/protocol.ts';
import { createOutbox, OutboxReader } from '../../src/notify/outbox/outbox-reader.ts';
import { OutboxSchema } from '../../src/notify/outbox/outbox-schema.ts';
import { OutboxUpkeep, PRUNE_BATCH_ROWS } from '../../src/notify/outbox/outbox-upkeep.ts';
import { logRemovedEndpoints, removedEndpoints } from '../../src/notify/delivery/removed-endpoints.ts';
import { randomBlob } from '../helpers/oci.ts';
import { WebhookReceiver } from '../helpers/receiver.ts';
import { startTestRegistry } from '../helpers/registry.ts';
import { adminJson, endpoint, eventually, NotifyClient, type EndpointState } from './support.ts';

const DAY = 86_400_000;

/** The outbox tables as the first release created them: no pruning index, no probe table. */
const FIRST_SCHEMA = `
  CREATE TABLE events (
    seq INTEGER PRIMARY KEY AUTOINCREMENT, endpoint TEXT NOT NULL, event_id TEXT NOT NULL, payload TEXT NOT NULL,
    enqueued_at INTEGER NOT NULL, attempts INTEGER NOT NULL DEFAULT 0, state INTEGER NOT NULL DEFAULT 0,
    settled_at INTEGER, last_status INTEGER, last_error TEXT
  );
  CREATE INDEX events_by_endpoint ON events (endpoint, state, seq);
  CREATE INDEX events_by_id ON events (endpoint, event_id);
  CREATE TABLE attempts (
    id INTEGER PRIMARY KEY AUTOINCREMENT, endpoint TEXT NOT NULL, event_ids TEXT NOT NULL, at INTEGER NOT NULL,
    status INTEGER, latency_ms REAL NOT NULL, error TEXT, response TEXT
  );
  CREATE INDEX attempts_by_endpoint ON attempts (endpoint, id);
  CREATE TABLE endpoint_state (endpoint TEXT PRIMARY KEY, disabled INTEGER NOT NULL, reason TEXT);
`;

describe('outbox upkeep', { timeout: 60_000 }, () => {
  let work: string;
  before(async () => {
    work = await mkdtemp(path.join(tmpdir(), 'dockyard-upkeep-'));
  });
  after(() => rm(work, { recursive: true, force: true }));

  /** Inserts `n` rows for `endpoint` in `state`, enqueued and settled at `at`. */
  function rows(db: Database.Database, endpoint: string, state: number, at: number, n: number): void {
    const insert = db.prepare('INSERT INTO events (endpoint, event_id, payload, enqueued_at, state, settled_at) VALUES (?, ?, ?, ?, ?, ?)');
    db.transaction(() => {
      for (let i = 0; i < n; i++) insert.run(endpoint, `e-${endpoint}-${state}-${at}-${i}`, '{}', at, state, state === EventState.Pending ? null : at);
    })();
  }

  function count(db: Database.Database, where: string, ...args: unknown[]): number {
    return (db.prepare(`SELECT COUNT(*) AS n FROM events WHERE ${where}`).get(...args) as { n: number }).n;
  }

  it('adds the pruning index to an older outbox file, keeps its rows, and does so again harmlessly', () => {
    const file = path.join(work, 'old.sqlite');
    const old = new Database(file);
    old.exec(FIRST_SCHEMA);
    rows(old, 'hook', EventState.Pending, Date.now(), 3);
    rows(old, 'hook', EventState.Delivered, Date.now(), 2);
    old.close();

    createOutbox(file);
    createOutbox(file); // idempotent: a second start finds everything in place
    const db = new Database(file, { readonly: true });
    const indexes = (db.prepare('PRAGMA index_list(events)').all() as { name: string }[]).map((i) => i.name);
    assert.ok(indexes.includes('events_by_settled'), `indexes: ${indexes}`);
    assert.equal(count(db, '1 = 1'), 5);
    // The pruning query goes through the index, not a scan of the table.
    const plan = (db.prepare('EXPLAIN QUERY PLAN SELECT seq FROM events WHERE state = 1 AND settled_at < 0 LIMIT 500').all() as { detail: string }[])
      .map((r) => r.detail)
      .join('; ');
    assert.match(plan, /USING (COVERING )?INDEX events_by_settled/, plan);
    db.close();
  });

  it('prunes by retention in batches of at most 500 rows, letting other work run between batches', async () => {
    const file = path.join(work, 'prune.sqlite');
    createOutbox(file);
    const db = new Database(file);
    const sql = new OutboxSchema(db);
    const now = Date.now();
    rows(db, 'hook', EventState.Delivered, now - 2 * DAY, 1_750); // past the 1-day retention
    rows(db, 'hook', EventState.Requeued, now - 2 * DAY, 5);
    rows(db, 'hook', EventState.Delivered, now - 1_000, 20); // recent: kept for redelivery
    rows(db, 'hook', EventState.Pending, now - 40 * DAY, 30); // pending is never pruned for a configured endpoint
    rows(db, 'hook', EventState.Dead, now - 31 * DAY, 40); // past the 30-day dead-letter retention
    rows(db, 'hook', EventState.Dead, now - 29 * DAY, 5);
    rows(db, 'gone', EventState.Pending, now - 31 * DAY, 10); // a removed endpoint's, past the retention
    rows(db, 'gone', EventState.Pending, now - DAY, 3);
    const attempt = db.prepare("INSERT INTO attempts (endpoint, event_ids, at, status, latency_ms) VALUES ('hook', '[]', ?, 200, 1)");
    db.transaction(() => {
      for (let i = 0; i < 1_200; i++) attempt.run(now);
    })();

    const batches: number[] = [];
    const upkeep = new OutboxUpkeep(sql, PRUNE_BATCH_ROWS, (n) => batches.push(n));
    let turns = 0;
    let ticking = true;
    const tick = () => {
      turns++;
      if (ticking) setImmediate(tick);
    };
    setImmediate(tick);
    upkeep.request({ t: 'prune', retentionMs: DAY, deadRetentionMs: 30 * DAY, removedEndpoints: ['gone'], keepAttempts: 1_000 });
    await upkeep.idle();
    ticking = false;

    assert.ok(batches.every((n) => n <= PRUNE_BATCH_ROWS), `batches: ${batches}`);
    assert.equal(batches.reduce((a, b) => a + b, 0), 1_750 + 5 + 40 + 10 + 200);
    assert.ok(batches.length >= 6, `the 1,750 delivered rows alone take 4 batches: ${batches}`);
    assert.ok(turns >= batches.length, `the event loop turned between batches (${turns} turns, ${batches.length} batches)`);
    assert.equal(count(db, 'state = ?', EventState.Delivered), 20);
    assert.equal(count(db, 'state = ?', EventState.Requeued), 0);
    assert.equal(count(db, "state = ? AND endpoint = 'hook'", EventState.Pending), 30);
    assert.equal(count(db, 'state = ?', EventState.Dead), 5);
    assert.equal(count(db, "endpoint = 'gone'"), 3);
    assert.equal((db.prepare('SELECT COUNT(*) AS n FROM attempts').get() as { n: number }).n, 1_000);
    db.close();
  });

  it('logs, at start, each endpoint no longer configured with its pending events, and lists it until pruned', async () => {
    const root = path.join(work, 'registry');
    const hook = await WebhookReceiver.start();
    const failing = await WebhookReceiver.start(() => ({ status: 500 }));
    try {
      const storage = { filesystem: { rootdirectory: root } };
      const first = await startTestRegistry({
        storage,
        notifications: { endpoints: [endpoint(hook), endpoint(failing, { name: 'old', backoff: '1s', maxbackoff: '1s' })] },
      });
      const client = new NotifyClient(first.url);
      for (let i = 0; i < 2; i++) {
        const blob = randomBlob(50 + i);
        assert.equal((await client.pushBlob('upkeep/app', blob.data, blob.digest)).status, 201);
      }
      await eventually(() => hook.events().length >= 2, 'the kept endpoint got both');
      await first.close();

      // The operator removed `old` from the configuration; its two events are still queued.
      const lines: Record<string, unknown>[] = [];
      const logger = pino({ level: 'info' }, { write: (s: string) => void lines.push(JSON.parse(s) as Record<string, unknown>) });
      const reader = new OutboxReader(path.join(root, '_notifications', 'outbox.sqlite'));
      logRemovedEndpoints(await removedEndpoints(reader, new Set(['hook'])), 30 * DAY, logger);
      await reader.close();
      assert.equal(lines.length, 1);
      assert.equal(lines[0]!.endpoint, 'old');
      assert.equal(lines[0]!.pending, 2);
      assert.match(String(lines[0]!.msg), /no longer configured/);

      const second = await startTestRegistry({ storage, notifications: { endpoints: [endpoint(hook)] } });
      try {
        const { endpoints } = await adminJson<{ endpoints: EndpointState[] }>(second, '/notifications/endpoints');
        assert.deepEqual(endpoints.map((e) => [e.name, e.removed]), [['hook', false], ['old', true]]);
        const old = endpoints[1]!;
        assert.equal(old.pending, 2);
        assert.equal(old.url, null);
        assert.equal(old.disabled, true);
        assert.match(old.disabledReason ?? '', /removed/);
      } finally {
        await second.close();
      }
    } finally {
      await hook.close();
      await failing.close();
    }
  });
});
