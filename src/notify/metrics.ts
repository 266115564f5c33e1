import { STATUS_CODES } from 'node:http';
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';

/**
 * Notification metrics. The first three carry Distribution's names and labels so existing
 * dashboards keep working; the rest are ours.
 */
export class NotificationMetrics {
  readonly events: Counter<'type' | 'endpoint'>;
  readonly status: Counter<'code' | 'endpoint'>;
  readonly attempts: Counter<'endpoint' | 'outcome'>;
  readonly deadLetters: Counter<'endpoint'>;
  readonly latency: Histogram<'endpoint'>;

  constructor(registry: Registry, pending: (endpoint: string) => number, endpoints: readonly string[]) {
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
      collect() {
        for (const endpoint of endpoints) this.set({ endpoint }, pending(endpoint));
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
      help: 'Delivery attempts (outcome: success, failure, error)',
      labelNames: ['endpoint', 'outcome'],
      registers: [registry],
    });
    this.deadLetters = new Counter({
      name: 'dockyard_notifications_dead_letters_total',
      help: 'Events moved to the dead-letter list',
      labelNames: ['endpoint'],
      registers: [registry],
    });
    this.latency = new Histogram({
      name: 'dockyard_notifications_delivery_latency_seconds',
      help: 'From the operation completing to the endpoint acknowledging its event',
      labelNames: ['endpoint'],
      buckets: [0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300],
      registers: [registry],
    });
  }

  /** An HTTP status as Distribution labels it: "200 OK". */
  static statusLabel(status: number): string {
    return `${status} ${STATUS_CODES[status] ?? ''}`.trim();
  }
}
