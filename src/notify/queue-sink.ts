import type { Event } from './event.ts';
import type { OutboxClient } from './outbox-client.ts';
import type { Sink } from './sink.ts';

/**
 * The durable queue in front of one endpoint: `write` resolves once the events are on disk.
 * Its delivery worker drains the queue into the retrying sink.
 */
export class QueueSink implements Sink {
  constructor(
    private readonly outbox: OutboxClient,
    private readonly endpoint: string,
  ) {}

  async write(events: Event[]): Promise<void> {
    await Promise.all(events.map((event) => this.outbox.enqueue(this.endpoint, event)));
  }

  async close(): Promise<void> {}
}
