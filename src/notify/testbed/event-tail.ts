import type { EventRange } from '../protocol.ts';
import type { Event } from '../event.ts';

/** How far back each look goes: an event stamped earlier can commit later (its change took longer). */
const OVERLAP_MS = 5_000;
const PAGE = 500;

export type EventsQuery = (range: EventRange, limit: number) => Promise<Event[]>;

/**
 * Follows the outbox's events as they are committed (on every replica, with a shared outbox), for
 * the test bed's live view: each look asks for the events stamped since a little before the last
 * one seen, and hands on those not seen yet, each once, oldest first. Only events queued for some
 * endpoint are in the outbox, so with no endpoint there is nothing to follow.
 */
export class EventTail {
  private readonly seen = new Map<string, number>();
  private since: number;

  constructor(
    private readonly query: EventsQuery,
    start = Date.now(),
  ) {
    this.since = start;
  }

  async next(now = Date.now()): Promise<Event[]> {
    const from = Math.min(this.since, now - 1) - OVERLAP_MS;
    const events = await this.query({ since: new Date(from).toISOString(), until: new Date(now + 1).toISOString(), repository: null, action: null }, PAGE);
    const fresh: Event[] = [];
    for (const e of events) {
      if (this.seen.has(e.id)) continue;
      const at = Date.parse(e.timestamp);
      this.seen.set(e.id, at);
      this.since = Math.max(this.since, at);
      fresh.push(e);
    }
    // Forget what fell out of the window: it cannot come back.
    for (const [id, at] of this.seen) if (at < from) this.seen.delete(id);
    return fresh;
  }
}
