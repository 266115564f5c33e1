import type { AttemptOutcome } from './http-sink.ts';
import type { AttemptRecord } from './outbox-client.ts';
import type { QueuedEvent } from './outbox-reader.ts';

/** One endpoint as the operator sees it (`GET /notifications/endpoints`). */
export interface EndpointStatus {
  name: string;
  url: string;
  disabled: boolean;
  disabledReason: string | null;
  pending: number;
  delivered: number;
  deadLetters: number;
  /** Since when attempts have been failing, or null while healthy. */
  failingSince: string | null;
  lastStatus: number | null;
}

/** What the operator API can see and do; implemented by the notifications module, served by src/api. */
export interface NotificationAdmin {
  status(): Promise<EndpointStatus[]>;
  has(name: string): boolean;
  deliveries(name: string, limit: number): Promise<AttemptRecord[]>;
  deadLetters(name: string, limit: number): Promise<(QueuedEvent & { error: string | null; status: number | null })[]>;
  /** Queues a stored event again; false when the endpoint never had it (or it was pruned). */
  redeliver(name: string, eventId: string): Promise<boolean>;
  /** Sends a test event now, outside the queue, and says what happened. */
  ping(name: string): Promise<AttemptOutcome>;
  /** Re-enables an endpoint that a 410 Gone disabled. */
  enable(name: string): void;
}
