import { statusLabel, type MetricReporter } from '../metric-updates.ts';
import type { OutboxClient } from '../outbox/outbox-client.ts';
import type { AttemptOutcome } from './http-sink.ts';

/** A 2xx: the one answer that acknowledges a delivery (Standard Webhooks). */
export function acknowledged(outcome: AttemptOutcome): boolean {
  return outcome.status !== null && outcome.status >= 200 && outcome.status < 300;
}

/**
 * Writes one attempt where the operator sees it: the delivery log and the metrics. Pings (`ping`:
 * true) are counted apart and not as events, since they carry no registry event.
 */
export function recordAttempt(outcome: AttemptOutcome, ping: boolean, writer: OutboxClient, report: MetricReporter): void {
  const ok = acknowledged(outcome);
  writer.recordAttempt({
    endpoint: outcome.endpoint,
    eventIds: outcome.events.map((e) => e.id),
    at: Date.now(),
    status: outcome.status,
    latencyMs: Math.round(outcome.latencyMs * 100) / 100,
    error: outcome.error,
    response: outcome.response,
  });
  const endpoint = outcome.endpoint;
  const result = ok ? 'success' : outcome.status === null ? 'error' : 'failure';
  report({ m: 'attempt', endpoint, outcome: result, kind: ping ? 'ping' : 'delivery', seconds: outcome.latencyMs / 1000 });
  if (ping) return;
  const n = outcome.events.length;
  if (outcome.status !== null) report({ m: 'status', code: statusLabel(outcome.status), endpoint, n });
  report({ m: 'events', type: ok ? 'Successes' : outcome.status === null ? 'Errors' : 'Failures', endpoint, n });
}
