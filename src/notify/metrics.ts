import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import type { MetricUpdate } from './metric-updates.ts';

/**
 * Notification metrics. The first three carry Distribution's names and labels so existing
 * dashboards keep working (`Events` counts every queuing of an event, a redelivery or replay
 * included, so `Successes` never exceeds it); the rest are ours, listed in docs/production.md.
 */
export class NotificationMetrics {
  private readonly events: Counter<'type' | 'endpoint'>;
  private readonly status: Counter<'code' | 'endpoint'>;
  private readonly attempts: Counter<'endpoint' | 'outcome' | 'kind'>;
  private readonly attemptDuration: Histogram<'endpoint' | 'kind'>;
  private readonly deadLetters: Counter<'endpoint'>;
  private readonly eventAge: Histogram<'endpoint'>;
  private readonly restarts: Counter<'thread'>;

  constructor(registry: Registry, pending: () => Promise<Record<string, number>>) {
    this.events = new Counter({
      name: 'registry_notifications_events_total',
      help: 'The number of total events (type: Events, Successes, Failures, Errors)',
      labelNames: ['type', 'endpoint'],
      registers: [registry],
    });
    new Gauge({
      name: 'registry_notifications_pending_total',
      help: 'The gauge of pending events in queue',
      labelNames: ['endpoint'],
      registers: [registry],
      async collect() {
        // With the delivery thread down (or late) the last values stay; /metrics must not fail or hang.
        const counts = await pending().catch(() => ({}));
        for (const [endpoint, n] of Object.entries(counts)) this.set({ endpoint }, n);
      },
    });
    this.status = new Counter({
      name: 'registry_notifications_status_total',
      help: 'The number of status code',
      labelNames: ['code', 'endpoint'],
      registers: [registry],
    });
    this.attempts = new Counter({
      name: 'dockyard_notifications_attempts_total',
      help: 'Requests to endpoints (outcome: success, failure, error; kind: delivery of queued events, or ping: a test event, not counted in registry_notifications_events_total)',
      labelNames: ['endpoint', 'outcome', 'kind'],
      registers: [registry],
    });
    this.attemptDuration = new Histogram({
      name: 'dockyard_notifications_attempt_duration_seconds',
      help: 'One request to an endpoint, from sending it to its response (or failure)',
      labelNames: ['endpoint', 'kind'],
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      registers: [registry],
    });
    this.deadLetters = new Counter({
      name: 'dockyard_notifications_dead_letters_total',
      help: 'Events moved to the dead-letter list',
      labelNames: ['endpoint'],
      registers: [registry],
    });
    this.eventAge = new Histogram({
      name: 'dockyard_notifications_event_age_seconds',
      help: 'How old an event is when its endpoint acknowledges it: from the operation completing, across every retry (a redelivery of an old event is old)',
      labelNames: ['endpoint'],
      buckets: [0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300],
      registers: [registry],
    });
    this.restarts = new Counter({
      name: 'dockyard_notifications_thread_restarts_total',
      help: 'Notification threads (outbox-writer, delivery) restarted after dying or getting stuck',
      labelNames: ['thread'],
      registers: [registry],
    });
  }

  /** A supervised thread (`outbox-writer`, `delivery`) died and was started again. */
  restarted(thread: string): void {
    this.restarts.inc({ thread });
  }

  apply(u: MetricUpdate): void {
    switch (u.m) {
      case 'events': this.events.inc({ type: u.type, endpoint: u.endpoint }, u.n); break;
      case 'status': this.status.inc({ code: u.code, endpoint: u.endpoint }, u.n); break;
      case 'attempt':
        this.attempts.inc({ endpoint: u.endpoint, outcome: u.outcome, kind: u.kind });
        this.attemptDuration.observe({ endpoint: u.endpoint, kind: u.kind }, u.seconds);
        break;
      case 'deadLetters': this.deadLetters.inc({ endpoint: u.endpoint }, u.n); break;
      case 'eventAge': this.eventAge.observe({ endpoint: u.endpoint }, u.seconds); break;
    }
  }

}
