import type { Event } from '../event.ts';
import type { OutboxClient } from '../outbox/outbox-client.ts';
import type { QueuedEvent } from '../outbox/outbox-reads.ts';
import type { DeliveryError } from './delivery-error.ts';
import type { RetryHooks } from './retrying-sink.ts';

/**
 * Attempt counts of the batch an endpoint's worker is delivering: read from the outbox with the
 * batch (so counts survive a restart), bumped and written back on each failure.
 */
export class AttemptLedger implements RetryHooks {
  private batch = new Map<string, { seq: number; attempts: number }>();

  constructor(private readonly outbox: OutboxClient) {}

  track(batch: QueuedEvent[]): void {
    this.batch = new Map(batch.map((q) => [q.event.id, { seq: q.seq, attempts: q.attempts }]));
  }

  priorAttempts(events: Event[]): number {
    return Math.max(0, ...events.map((e) => this.batch.get(e.id)?.attempts ?? 0));
  }

  failed(events: Event[], error: DeliveryError): void {
    const seqs: number[] = [];
    for (const e of events) {
      const entry = this.batch.get(e.id);
      if (!entry) continue;
      entry.attempts++;
      seqs.push(entry.seq);
    }
    this.outbox.recordFailure(seqs, error.status, error.message);
  }
}
