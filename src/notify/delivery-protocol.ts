import type { MessagePort } from 'node:worker_threads';
import type { EndpointStatus } from './admin.ts';
import type { Event } from './event.ts';
import type { AttemptOutcome } from './http-sink.ts';
import type { MetricUpdate } from './metric-updates.ts';
import type { AttemptRecord } from './outbox-client.ts';
import type { QueuedEvent } from './outbox-reader.ts';

/** What the main thread may ask the delivery thread (the operator API, metrics, shutdown). */
export interface DeliveryMethods {
  status(): EndpointStatus[];
  pending(): Record<string, number>;
  deliveries(name: string, limit: number): AttemptRecord[];
  deadLetters(name: string, limit: number): (QueuedEvent & { error: string | null; status: number | null })[];
  redeliver(name: string, eventId: string): boolean;
  enable(name: string): null;
  ping(name: string, event: Event): AttemptOutcome;
  close(): null;
}

export type DeliveryMethod = keyof DeliveryMethods;

/** One call, typed by its method: `{ method: 'deliveries', args: [name, limit] }`. */
export type DeliveryCall = {
  [M in DeliveryMethod]: { kind: 'call'; id: number; method: M; args: Parameters<DeliveryMethods[M]> };
}[DeliveryMethod];

/** From the main thread: a call, or the writer thread's line (again, after either thread restarted). */
export type DeliveryRequest = DeliveryCall | { kind: 'writer'; port: MessagePort };

/** What the delivery thread sends back: results of calls, and metric changes as they happen. */
export type DeliveryMessage =
  | { kind: 'result'; id: number; value?: unknown; error?: string }
  | { kind: 'metrics'; updates: MetricUpdate[] }
  /** The engine is built and delivering. */
  | { kind: 'ready' };
