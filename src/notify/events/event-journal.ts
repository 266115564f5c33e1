import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import { failpoint } from '../../failpoint.ts';
import { isRegistryError } from '../../oci/errors.ts';
import type { RepoName } from '../../oci/names.ts';
import type { RequestContext } from '../../oci/request-context.ts';
import type { Repository } from '../../storage/repository.ts';
import type { Event } from '../event.ts';
import type { Outbox } from '../outbox/outbox.ts';
import type { QueuedRow } from '../protocol.ts';
import type { ChangeIntent, IntentRecord } from './change-intent.ts';
import type { EventRouter } from './event-router.ts';
import { eventsOwed } from './reconcile.ts';
import type { EventFactory } from './source.ts';

/**
 * The named crash points of a change's journal (see `src/failpoint.ts`), one per kind of change:
 * `notify.intent.recorded.manifest.push` dies after a manifest push's intent is recorded.
 */
export const JournalFailpoints = {
  /** The intent is durable, the store not yet touched. */
  intentRecorded: 'notify.intent.recorded',
  /** The change's events are durable and its intent gone, the client not yet answered. */
  eventsCommitted: 'notify.events.committed',
} as const;

export interface JournalOptions {
  /** The store as it is, without notifications: what reconciliation asks. */
  repositories: (name: RepoName) => Repository;
  /** Rows the outbox took, once committed (the "Events" counter). */
  committed: (rows: readonly QueuedRow[]) => void;
  /**
   * Runs `task` holding the per-tag and per-manifest order a change holds (listener.ts), so an
   * intent settled later cannot slip its events before a newer change of the same tag.
   */
  inOrderOf: <T>(change: ChangeIntent, task: () => Promise<T>) => Promise<T>;
}

/**
 * How a change and its events become one: an intent is committed to the outbox before the
 * store is touched, and the change's events replace it in one transaction after. If the
 * process dies in between, the intent is still there at the next start and `reconcile` asks the
 * store what happened: the events of what it holds are queued, an intent of nothing is dropped.
 * So no change is without its event, and no event is without its change, across any crash.
 *
 * A change that fails on a storage fault may have done part of its work (a manifest delete that
 * removed some tags): its intent is settled at once from the store in the same way. A change
 * whose events cannot be committed (the outbox failed after the change) is answered 503 and
 * settled from the store again, in order, until the outbox takes it.
 */
export class EventJournal {
  private readonly unsettled = new Map<string, IntentRecord>();
  private retryTimer: NodeJS.Timeout | null = null;
  private retryDelayMs = 500;
  private closed = false;

  constructor(
    private readonly outbox: Outbox,
    private readonly router: EventRouter,
    private readonly factory: EventFactory,
    private readonly options: JournalOptions,
    private readonly logger: Logger,
  ) {}

  /** Queues the events of something that already happened (a pull); resolves once durable. */
  async record(events: Event[]): Promise<void> {
    const rows = this.router.route(events);
    if (rows.length === 0) return;
    await this.outbox.enqueueRows(rows);
    this.options.committed(rows);
  }

  /**
   * Runs `run`, a change of the store described by `change`, between its intent and its events
   * (`eventsOf` its result). Refused before anything changed (a 4xx), the intent is dropped and
   * nothing emitted. Resolves with `run`'s result once its events are durable.
   */
  async change<T>(change: ChangeIntent, ctx: RequestContext, run: () => Promise<T>, eventsOf: (result: T) => Event[]): Promise<T> {
    const record: IntentRecord = { id: randomUUID(), at: Date.now(), change, origin: this.factory.origin(ctx) };
    // An outbox that cannot take this write refuses the request here, before the store changes.
    await this.outbox.intend(record);
    failpoint(`${JournalFailpoints.intentRecorded}.${change.kind}`);
    let result: T;
    try {
      result = await run();
    } catch (err) {
      if (isRegistryError(err) && err.status < 500) this.outbox.abandon(record.id);
      else await this.settle(record).catch((settleErr: unknown) => this.retryLater(record, settleErr));
      throw err;
    }
    const rows = this.router.route(eventsOf(result));
    try {
      await this.outbox.confirm(record.id, rows);
    } catch (err) {
      this.retryLater(record, err);
      throw err;
    }
    this.options.committed(rows);
    failpoint(`${JournalFailpoints.eventsCommitted}.${change.kind}`);
    return result;
  }

  /** Settles the intents a crash left, oldest first: before the registry takes requests. */
  async reconcile(records: IntentRecord[]): Promise<{ emitted: number; dropped: number }> {
    let emitted = 0;
    let dropped = 0;
    for (const record of records) {
      const n = await this.settle(record);
      if (n > 0) emitted += n;
      else dropped++;
      this.logger.info({ intent: record.id, change: record.change, events: n }, 'reconciled a change a crash interrupted');
    }
    return { emitted, dropped };
  }

  /** Stops retrying (what is left stays in the outbox for the next start). */
  close(): void {
    this.closed = true;
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.retryTimer = null;
  }

  /** Queues the events the store says the change owes, and forgets the intent. Returns how many. */
  private async settle(record: IntentRecord): Promise<number> {
    const events = await eventsOwed(record, this.options.repositories(record.change.repository), this.factory);
    const rows = this.router.route(events);
    await this.outbox.confirm(record.id, rows);
    this.options.committed(rows);
    return events.length;
  }

  private retryLater(record: IntentRecord, err: unknown): void {
    this.logger.warn({ err, intent: record.id, change: record.change }, 'a change is not yet settled with its events; retrying');
    this.unsettled.set(record.id, record);
    this.scheduleRetry();
  }

  private scheduleRetry(): void {
    if (this.closed || this.retryTimer || this.unsettled.size === 0) return;
    this.retryTimer = setTimeout(() => void this.retry(), this.retryDelayMs);
    this.retryTimer.unref();
  }

  private async retry(): Promise<void> {
    this.retryTimer = null;
    for (const record of [...this.unsettled.values()]) {
      try {
        await this.options.inOrderOf(record.change, () => this.settle(record));
        this.unsettled.delete(record.id);
      } catch {
        this.retryDelayMs = Math.min(this.retryDelayMs * 2, 30_000);
        break;
      }
    }
    if (this.unsettled.size === 0) this.retryDelayMs = 500;
    this.scheduleRetry();
  }
}
