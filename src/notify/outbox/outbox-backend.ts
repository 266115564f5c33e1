import { randomUUID } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import * as path from 'node:path';
import type { IntentRecord } from '../events/change-intent.ts';
import type { OutboxOptions } from '../options.ts';
import { createOutbox } from './outbox-reader.ts';
import { PgOwnership } from './pg-ownership.ts';

/** Settles intents with the store (EventJournal.reconcile). */
export type Settle = (records: IntentRecord[]) => Promise<void>;

/**
 * Where the outbox lives, as the registry's thread sees it: which writer thread to start, and
 * whose interrupted changes to settle. The embedded SQLite file has one process and settles its
 * own at start; the shared PostgreSQL outbox settles those of any dead replica, at start and
 * every `sweepMs` after.
 */
export interface OutboxBackend {
  /** The writer thread's entry (relative to src/notify) and its workerData. */
  writer: { entry: string; workerData: Record<string, unknown> };
  /** How often to look again for orphaned intents, or null (only at start). */
  sweepMs: number | null;
  /** Settles the interrupted changes there are now; how many. */
  interrupted(settle: Settle): Promise<number>;
  close(): Promise<void>;
}

/** Opens the outbox the options name: creates or migrates the SQLite file now; PostgreSQL on first use. */
export function openOutboxBackend(options: OutboxOptions): OutboxBackend {
  return options.postgres ? new PostgresBackend(options) : new SqliteBackend(options.file);
}

class SqliteBackend implements OutboxBackend {
  readonly writer: OutboxBackend['writer'];
  readonly sweepMs = null;
  private left: IntentRecord[];

  constructor(file: string) {
    mkdirSync(path.dirname(file), { recursive: true });
    this.left = createOutbox(file);
    this.writer = { entry: './outbox/outbox-writer', workerData: { file } };
  }

  async interrupted(settle: Settle): Promise<number> {
    const records = this.left;
    this.left = [];
    if (records.length > 0) await settle(records);
    return records.length;
  }

  async close(): Promise<void> {}
}

const ORPHAN_SWEEP_MS = 5_000;

class PostgresBackend implements OutboxBackend {
  readonly writer: OutboxBackend['writer'];
  readonly sweepMs = ORPHAN_SWEEP_MS;
  private readonly ownership: Promise<PgOwnership>;
  private sweeping: Promise<number> | null = null;

  constructor(options: OutboxOptions) {
    const owner = randomUUID();
    this.writer = { entry: './outbox/pg-outbox-writer', workerData: { postgres: options.postgres, owner } };
    this.ownership = PgOwnership.claim(options.postgres!, owner);
    this.ownership.catch(() => undefined); // reported by the first interrupted()
  }

  /** One sweep at a time; a sweep asked for meanwhile joins it. */
  interrupted(settle: Settle): Promise<number> {
    this.sweeping ??= this.ownership
      .then((o) => o.adoptOrphans(settle))
      .finally(() => {
        this.sweeping = null;
      });
    return this.sweeping;
  }

  async close(): Promise<void> {
    await this.sweeping?.catch(() => undefined);
    const ownership = await this.ownership.catch(() => null);
    await ownership?.close();
  }
}
