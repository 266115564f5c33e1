import { STATUS_CODES } from 'node:http';

/**
 * A metric change as data: the delivery thread reports it to the main thread's registry without
 * loading prom-client itself.
 */
export type MetricUpdate =
  | { m: 'events'; type: 'Events' | 'Successes' | 'Failures' | 'Errors'; endpoint: string; n: number }
  | { m: 'status'; code: string; endpoint: string; n: number }
  | { m: 'attempts'; outcome: 'success' | 'failure' | 'error'; endpoint: string }
  | { m: 'deadLetters'; endpoint: string; n: number }
  | { m: 'latency'; endpoint: string; seconds: number };

export type MetricReporter = (update: MetricUpdate) => void;

/** An HTTP status as Distribution labels it: "200 OK". */
export function statusLabel(status: number): string {
  return `${status} ${STATUS_CODES[status] ?? ''}`.trim();
}
