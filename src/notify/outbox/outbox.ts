import type { IntentRecord } from '../events/change-intent.ts';
import type { QueuedRow } from '../protocol.ts';

/**
 * The durable outbox as the registry's thread writes it: the seam another outbox (PostgreSQL,
 * shared by replicas) plugs into. Every method that returns a promise resolves once what it
 * wrote survives a crash; it rejects with a 503-worthy error when the outbox cannot take writes.
 */
export interface Outbox {
  /** Queues events of something that already happened (a pull). */
  enqueueRows(rows: QueuedRow[]): Promise<void>;
  /** Records a change about to be made, before the store is touched. */
  intend(record: IntentRecord): Promise<void>;
  /** Queues a change's events (maybe none) and forgets its intent, in one transaction. */
  confirm(id: string, rows: QueuedRow[]): Promise<void>;
  /** Forgets an intent whose change was refused before anything changed; not waited for. */
  abandon(id: string): void;
}
