import type { Event } from '../event.ts';

/**
 * Where a delivery worker sends an endpoint's events. Each stage is a Sink and wraps another,
 * after Distribution's notifications package: RetryingSink -> HttpSink. (Before the outbox,
 * the fan-out to endpoints is the EventRouter: rows that commit with their change's intent.)
 *
 * `write` resolves once the sink has taken responsibility for the events: for the HTTP sink,
 * that the endpoint answered 2xx.
 */
export interface Sink {
  write(events: Event[]): Promise<void>;
  close(): Promise<void>;
}
