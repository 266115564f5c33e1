import type { Event } from './event.ts';

/**
 * Where events go. Every stage of the pipeline is a Sink and wraps another, after
 * Distribution's notifications package:
 *
 *   Broadcaster -> per endpoint: FilterSink -> QueueSink (durable outbox)
 *                  ... worker ...  RetryingSink -> HttpSink
 *
 * `write` resolves once the sink has taken responsibility for the events: for the queue that
 * means they are durable on disk; for the HTTP sink, that the endpoint answered 2xx.
 */
export interface Sink {
  write(events: Event[]): Promise<void>;
  close(): Promise<void>;
}

/** Fans each write out to every sink; resolves when all have taken the events. */
export class Broadcaster implements Sink {
  constructor(private readonly sinks: readonly Sink[]) {}

  async write(events: Event[]): Promise<void> {
    await Promise.all(this.sinks.map((sink) => sink.write(events)));
  }

  async close(): Promise<void> {
    await Promise.all(this.sinks.map((sink) => sink.close()));
  }
}
