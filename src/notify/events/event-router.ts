import type { Event } from '../event.ts';
import type { QueuedRow } from '../protocol.ts';
import type { EventFilter } from './filter.ts';

/** One configured endpoint as the router sees it. */
export interface Route {
  endpoint: string;
  filter: EventFilter;
}

/**
 * Decides which endpoints' queues take each event (each endpoint's filter, once, before the
 * outbox), and turns the events into the rows the outbox stores: the fan-out of Distribution's
 * Broadcaster, as data, so that a change's events and its intent commit in one transaction.
 */
export class EventRouter {
  /** Runtime endpoints' routes (runtime/runtime-endpoints.ts), replaced whole as they change. */
  private runtime: readonly Route[] = [];

  constructor(private readonly routes: readonly Route[]) {}

  /** From now on, events also go to these runtime endpoints (and no longer to those left out). */
  setRuntimeRoutes(routes: readonly Route[]): void {
    this.runtime = routes;
  }

  route(events: readonly Event[]): QueuedRow[] {
    const rows: QueuedRow[] = [];
    for (const { endpoint, filter } of [...this.routes, ...this.runtime]) {
      for (const event of events) {
        if (filter.accepts(event)) rows.push({ endpoint, eventId: event.id, payload: JSON.stringify(event) });
      }
    }
    return rows;
  }
}

/** Rows per endpoint (for the "Events" counter once they are committed). */
export function countByEndpoint(rows: readonly QueuedRow[]): Map<string, number> {
  const counts = new Map<string, number>();
  for (const row of rows) counts.set(row.endpoint, (counts.get(row.endpoint) ?? 0) + 1);
  return counts;
}
