import { STATUS_CODES } from 'node:http';

/**
 * A metric change as data: the delivery thread reports it to the main thread's registry without
 * loading prom-client itself.
 */
export type MetricUpdate =
  | { m: 'events'; type: 'Events' | 'Successes' | 'Failures' | 'Errors'; endpoint: string; n: number }
  | { m: 'status'; code: string; endpoint: string; n: number }
  /** One HTTP request (or JetStream publish) to an endpoint: a delivery of queued events, or a test ping. */
  | { m: 'attempt'; outcome: 'success' | 'failure' | 'error'; kind: 'delivery' | 'ping'; endpoint: string; seconds: number }
  | { m: 'deadLetters'; endpoint: string; n: number }
  /** An event acknowledged: how long after its operation completed. */
  | { m: 'eventAge'; endpoint: string; seconds: number };

export type MetricReporter = (update: MetricUpdate) => void;

/** An HTTP status as Distribution labels it: "200 OK". */
export function statusLabel(status: number): string {
  return `${status} ${STATUS_CODES[status] ?? ''}`.trim();
}
