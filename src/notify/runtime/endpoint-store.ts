import Database from 'better-sqlite3';
import { EventState } from '../protocol.ts';

/** A runtime endpoint as the outbox keeps it: the definition as given (config.yml's keys). */
export interface StoredEndpoint {
  name: string;
  definition: Record<string, unknown>;
  /** Delivers to the registry's own `/ui/inbox/<name>` (exempt from the target guard for that target only). */
  inbox: boolean;
  /** Removal asked with `pending=drain`: no new events, removed once its queue is empty. */
  draining: boolean;
}

/**
 * Where runtime endpoints are kept: with the outbox, so they live as long as their queues and,
 * on the shared outbox, every replica sees the same ones. Written from the registry's thread
 * (rare, small writes), beside the writer thread's commits.
 */
export interface RuntimeEndpointStore {
  /** Changes with every write (any replica's): polled, a new value means "read the list again". */
  revision(): Promise<number>;
  list(): Promise<StoredEndpoint[]>;
  /** false: an endpoint of that name is stored already. */
  insert(endpoint: StoredEndpoint): Promise<boolean>;
  update(endpoint: StoredEndpoint): Promise<void>;
  /** Queued (not yet delivered nor dead) events of the endpoint. */
  pending(name: string): Promise<number>;
  /** Whether the outbox holds any event of that name (a removed endpoint's, until pruned). */
  hasEvents(name: string): Promise<boolean>;
  /** Removes the endpoint and everything the outbox holds of it (events, attempts, state, keys). */
  purge(name: string): Promise<void>;
  /**
   * What a removed endpoint's name still has in the outbox (events other replicas routed before
   * they saw the removal), unless an endpoint of that name exists again.
   */
  purgeLeftovers(name: string): Promise<void>;
  close(): Promise<void>;
}

interface Row {
  name: string;
  definition: string;
  inbox: number;
  draining: number;
}

/** Tables an endpoint has rows in, purged with it (names are ours, not input). */
const PURGED: [table: string, column: string][] = [
  ['events', 'endpoint'],
  ['attempts', 'endpoint'],
  ['endpoint_state', 'endpoint'],
  ['signing_keys', 'endpoint'],
  ['runtime_endpoints', 'name'],
];

/** In the SQLite outbox file (table `runtime_endpoints`, made by OutboxSchema). One process: the revision is its own. */
export class SqliteEndpointStore implements RuntimeEndpointStore {
  private readonly db: Database.Database;
  private changes = 0;

  /** `file` has been created by createOutbox (outbox-reader.ts). */
  constructor(file: string) {
    this.db = new Database(file);
    this.db.pragma('busy_timeout = 5000');
  }

  async revision(): Promise<number> {
    return this.changes;
  }

  async list(): Promise<StoredEndpoint[]> {
    const rows = this.db.prepare('SELECT name, definition, inbox, draining FROM runtime_endpoints ORDER BY name').all() as Row[];
    return rows.map((r) => ({ name: r.name, definition: JSON.parse(r.definition) as Record<string, unknown>, inbox: r.inbox === 1, draining: r.draining === 1 }));
  }

  async insert(e: StoredEndpoint): Promise<boolean> {
    const info = this.db
      .prepare('INSERT INTO runtime_endpoints (name, definition, inbox, draining, updated_at) VALUES (?, ?, ?, ?, ?) ON CONFLICT (name) DO NOTHING')
      .run(e.name, JSON.stringify(e.definition), e.inbox ? 1 : 0, e.draining ? 1 : 0, Date.now());
    this.changes++;
    return info.changes === 1;
  }

  async update(e: StoredEndpoint): Promise<void> {
    this.db
      .prepare('UPDATE runtime_endpoints SET definition = ?, inbox = ?, draining = ?, updated_at = ? WHERE name = ?')
      .run(JSON.stringify(e.definition), e.inbox ? 1 : 0, e.draining ? 1 : 0, Date.now(), e.name);
    this.changes++;
  }

  async pending(name: string): Promise<number> {
    const row = this.db.prepare('SELECT COUNT(*) AS n FROM events WHERE endpoint = ? AND state = ?').get(name, EventState.Pending) as { n: number };
    return row.n;
  }

  async hasEvents(name: string): Promise<boolean> {
    return this.db.prepare('SELECT 1 FROM events WHERE endpoint = ? LIMIT 1').get(name) !== undefined;
  }

  async purge(name: string): Promise<void> {
    this.db.transaction(() => {
      for (const [table, column] of PURGED) this.db.prepare(`DELETE FROM ${table} WHERE ${column} = ?`).run(name);
    })();
    this.changes++;
  }

  async purgeLeftovers(name: string): Promise<void> {
    this.db.transaction(() => {
      for (const [table, column] of LEFTOVERS) {
        this.db.prepare(`DELETE FROM ${table} WHERE ${column} = ? AND NOT EXISTS (SELECT 1 FROM runtime_endpoints WHERE name = ?)`).run(name, name);
      }
    })();
  }

  async close(): Promise<void> {
    this.db.close();
  }
}

/**
 * Whether an outbox file holds runtime endpoints, read without starting notifications (a registry
 * with none in its config starts the threads only if so). A missing file or table: none.
 */
export function hasStoredEndpoints(file: string): boolean {
  let db: Database.Database;
  try {
    db = new Database(file, { readonly: true, fileMustExist: true });
  } catch {
    return false;
  }
  try {
    const table = db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'runtime_endpoints'").get();
    return table !== undefined && db.prepare('SELECT 1 FROM runtime_endpoints LIMIT 1').get() !== undefined;
  } finally {
    db.close();
  }
}

/** What purgeLeftovers removes: everything purge does but the endpoint's own row (there is none). */
const LEFTOVERS = PURGED.filter(([table]) => table !== 'runtime_endpoints');

export { PURGED as PURGED_TABLES, LEFTOVERS as LEFTOVER_TABLES };
