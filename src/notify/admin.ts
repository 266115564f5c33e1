import type { AttemptOutcome } from './delivery/http-sink.ts';
import type { Event } from './event.ts';
import type { AttemptRecord } from './outbox/outbox-client.ts';
import type { EventRange } from './protocol.ts';

export type { EventRange };
import type { QueuedEvent } from './outbox/outbox-reads.ts';

/** One endpoint as the operator sees it (`GET /notifications/endpoints`). */
export interface EndpointStatus {
  name: string;
  /** null for an endpoint no longer configured (`removed`). */
  url: string | null;
  /**
   * No longer in the configuration, but its events are still in the outbox: listed (disabled)
   * until upkeep prunes them, so queued events never vanish from view without a word.
   */
  removed: boolean;
  disabled: boolean;
  disabledReason: string | null;
  pending: number;
  delivered: number;
  deadLetters: number;
  /** Since when attempts have been failing, or null while healthy. */
  failingSince: string | null;
  lastStatus: number | null;
  /**
   * Whether this process delivers the endpoint now: always, with the embedded outbox; with a shared
   * one, on the one replica holding its lease (the others show the same queue, delivered elsewhere).
   */
  delivering: boolean;
  /**
   * With `signing: {ed25519: ...}`: the key consumers verify `v1a` signatures with, `whpk_` + base64
   * of the raw 32-byte Ed25519 public key (absent otherwise). It cannot sign, so it can be handed out.
   */
  publickey?: string;
  /** From the config file (read-only through the API), or created through the operator API. */
  source: EndpointSource;
  /** Runtime endpoints only: delivers to the registry's own `/ui/inbox/<name>`. */
  inbox?: boolean;
  /** Runtime endpoints only: removal asked with `pending=drain`, removed once its queue is empty. */
  draining?: boolean;
}

export type EndpointSource = 'config' | 'runtime';

/** What a removal does with the endpoint's queued events: deliver them first, or drop them. */
export type PendingPolicy = 'drain' | 'discard';

/** An endpoint's definition as the API may read it back (PATCH merges over it). */
export interface EndpointDefinition {
  name: string;
  source: EndpointSource;
  /** config.yml's keys as given; null for a config endpoint (not readable through the API). */
  definition: Record<string, unknown> | null;
  inbox: boolean;
}

/** A notifications thread: running, dead (a restart is scheduled), or started and not yet ready. */
export type ThreadState = 'up' | 'down' | 'restarting';

/** Readiness of notifications (`GET /readyz`): both threads and the outbox file. */
export interface NotificationsHealth {
  writer: ThreadState;
  delivery: ThreadState;
  /** Whether a small write to the outbox commits now. */
  outbox: 'writable' | 'error';
  /** Restarts since the registry started. */
  restarts: { writer: number; delivery: number };
  /** Why each part is not up (null when it is). */
  errors: { writer: string | null; delivery: string | null; outbox: string | null };
}

/** Everything up: the registry can take operations that emit events. */
export function isReady(h: NotificationsHealth): boolean {
  return h.writer === 'up' && h.delivery === 'up' && h.outbox === 'writable';
}

/** What the operator API can see and do; implemented by the notifications module, served by src/api. */
export interface NotificationAdmin {
  status(): Promise<EndpointStatus[]>;
  has(name: string): boolean;
  deliveries(name: string, limit: number): Promise<AttemptRecord[]>;
  deadLetters(name: string, limit: number): Promise<(QueuedEvent & { error: string | null; status: number | null })[]>;
  /** Queues a stored event again; false when the endpoint never had it (or it was pruned). */
  redeliver(name: string, eventId: string): Promise<boolean>;
  /** Queues the endpoint's retained events of a range again (same ids, in order); how many. */
  replay(name: string, range: EventRange): Promise<number>;
  /** Retained events of a range, each once, oldest first. */
  events(range: EventRange, limit: number): Promise<Event[]>;
  /** Sends a test event now, outside the queue, and says what happened. */
  ping(name: string): Promise<AttemptOutcome>;
  /** Re-enables an endpoint that a 410 Gone disabled; resolves once the delivery thread has done it. */
  enable(name: string): Promise<void>;
  /** Readiness: both threads and the outbox. Never hangs (each check has a deadline). */
  health(): Promise<NotificationsHealth>;

  // --- Runtime endpoints (runtime/runtime-endpoints.ts); failures are EndpointChangeErrors ---

  /**
   * Creates a runtime endpoint from a definition with config.yml's keys, effective at once;
   * `inbox`: its url is the registry's own `/ui/inbox/<name>`, the one target exempt from the guard.
   */
  createEndpoint(definition: Record<string, unknown>, options?: { inbox?: boolean }): Promise<EndpointStatus>;
  /** Replaces a runtime endpoint's whole definition; its worker restarts with the new options. */
  replaceEndpoint(name: string, definition: Record<string, unknown>): Promise<EndpointStatus>;
  /**
   * Removes a runtime endpoint: at once when nothing is queued or with `discard`; with `drain`
   * routing stops now and it goes once its queue is delivered (or dead-lettered).
   */
  removeEndpoint(name: string, pending: PendingPolicy | null): Promise<'removed' | 'draining'>;
  endpointDefinition(name: string): EndpointDefinition | null;
  /** An inbox endpoint's Standard Webhooks secrets (to verify what it receives); null when no such inbox. */
  endpointSecrets(name: string): string[] | null;
}
