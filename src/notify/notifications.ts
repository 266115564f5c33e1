import * as path from 'node:path';
import type { Logger } from 'pino';
import type { Registry as MetricsRegistry } from 'prom-client';
import type { EndpointConfig, NotificationsConfig } from '../config/notifications.ts';
import type { RequestContext } from '../oci/request-context.ts';
import type { Repository } from '../storage/repository.ts';
import { DeliveryWorker } from './delivery-worker.ts';
import { EventFilter, FilterSink } from './filter.ts';
import { HttpSink, type AttemptOutcome } from './http-sink.ts';
import { listen } from './listener.ts';
import { NotificationMetrics } from './metrics.ts';
import type { Notifier } from './notifier.ts';
import { Outbox } from './outbox.ts';
import { QueueSink } from './queue-sink.ts';
import { RetryingSink } from './retrying-sink.ts';
import { Broadcaster, type Sink } from './sink.ts';
import { AttemptLedger } from './attempt-ledger.ts';
import { EventFactory } from './source.ts';
import type { Event } from './event.ts';
import type { EndpointStatus, NotificationAdmin } from './admin.ts';
import { pingEvent } from './ping.ts';

const PRUNE_INTERVAL_MS = 60_000;

interface EndpointRuntime {
  config: EndpointConfig;
  http: HttpSink;
  worker: DeliveryWorker;
  failingSince: number | null;
  lastStatus: number | null;
}

/**
 * Notifications as configured: one durable, filtered, retrying chain per endpoint behind a
 * broadcaster, and the listener that feeds it. Knows nothing of Express: the API reaches it
 * through `Notifier` and `NotificationAdmin`.
 */
export class Notifications implements Notifier, NotificationAdmin {
  readonly outbox: Outbox;
  private readonly factory: EventFactory;
  private readonly broadcaster: Sink;
  private readonly endpoints = new Map<string, EndpointRuntime>();
  private readonly abort = new AbortController();
  private readonly metrics: NotificationMetrics;
  private readonly pruneTimer: NodeJS.Timeout;

  constructor(
    config: NotificationsConfig,
    options: { storageRoot: string; sourceAddr: () => string; metrics: MetricsRegistry },
    private readonly logger: Logger,
  ) {
    this.outbox = new Outbox(config.outbox.path ?? path.join(options.storageRoot, '_notifications', 'outbox.sqlite'));
    this.factory = new EventFactory(options.sourceAddr, config.events.includereferences);
    const active = config.endpoints.filter((e) => !e.disabled);
    this.metrics = new NotificationMetrics(options.metrics, (name) => this.outbox.counts(name).pending, active.map((e) => e.name));

    const chains: Sink[] = [];
    for (const endpoint of active) {
      const runtime = this.buildEndpoint(endpoint);
      this.endpoints.set(endpoint.name, runtime);
      chains.push(new FilterSink(new EventFilter(endpoint), new CountingSink(new QueueSink(this.outbox, endpoint.name), endpoint.name, this.metrics)));
    }
    this.broadcaster = new Broadcaster(chains);
    this.outbox.onCommitted((names) => {
      for (const name of names) this.endpoints.get(name)?.worker.wake();
    });
    for (const runtime of this.endpoints.values()) runtime.worker.start();
    this.pruneTimer = setInterval(() => this.outbox.prune(config.outbox.retention), PRUNE_INTERVAL_MS).unref();
  }

  private buildEndpoint(config: EndpointConfig): EndpointRuntime {
    const http = new HttpSink(config, (outcome) => this.observe(outcome), this.abort.signal);
    const ledger = new AttemptLedger(this.outbox);
    const retrying = new RetryingSink(
      config.name,
      http,
      {
        threshold: config.threshold,
        backoffMs: config.backoff,
        maxBackoffMs: config.maxbackoff,
        maxAttempts: config.maxattempts,
        maxAgeMs: config.maxage,
      },
      ledger,
      this.abort.signal,
    );
    const worker = new DeliveryWorker(
      config.name,
      this.outbox,
      retrying,
      ledger,
      { maxEvents: config.batch?.maxevents ?? 1, maxWaitMs: config.batch?.maxwait ?? 0 },
      this.abort.signal,
      this.logger,
      {
        delivered: (batch, now) => {
          for (const q of batch) {
            this.metrics.latency.observe({ endpoint: config.name }, (now - Date.parse(q.event.timestamp)) / 1000);
          }
        },
        dead: (batch) => this.metrics.deadLetters.inc({ endpoint: config.name }, batch.length),
      },
    );
    // Health as the delivery log left it, so a restart does not make a failing endpoint look fine.
    const health = this.outbox.health(config.name);
    return { config, http, worker, failingSince: health.failingSince, lastStatus: health.lastStatus };
  }

  /** Every attempt goes to the delivery log; `countInMetrics` is false for pings, which carry no registry event. */
  private observe(outcome: AttemptOutcome, countInMetrics = true): void {
    const runtime = this.endpoints.get(outcome.endpoint);
    const ok = outcome.status !== null && outcome.status >= 200 && outcome.status < 300;
    if (runtime) {
      runtime.lastStatus = outcome.status;
      runtime.failingSince = ok ? null : (runtime.failingSince ?? Date.now());
    }
    this.outbox.recordAttempt({
      endpoint: outcome.endpoint,
      eventIds: outcome.events.map((e) => e.id),
      at: Date.now(),
      status: outcome.status,
      latencyMs: Math.round(outcome.latencyMs * 100) / 100,
      error: outcome.error,
      response: outcome.response,
    });
    if (!countInMetrics) return;
    const endpoint = outcome.endpoint;
    const n = outcome.events.length;
    if (outcome.status !== null) this.metrics.status.inc({ code: NotificationMetrics.statusLabel(outcome.status), endpoint }, n);
    this.metrics.events.inc({ type: ok ? 'Successes' : outcome.status === null ? 'Errors' : 'Failures', endpoint }, n);
    this.metrics.attempts.inc({ endpoint, outcome: ok ? 'success' : outcome.status === null ? 'error' : 'failure' });
  }

  listen(repository: Repository, ctx: RequestContext): Repository {
    return listen(repository, ctx, this.factory, this.broadcaster);
  }

  // --- NotificationAdmin ---

  async status(): Promise<EndpointStatus[]> {
    await this.outbox.flushed();
    return [...this.endpoints.values()].map((r) => {
      const counts = this.outbox.counts(r.config.name);
      return {
        name: r.config.name,
        url: r.config.url,
        disabled: this.outbox.isDisabled(r.config.name),
        disabledReason: this.outbox.disabledReason(r.config.name),
        pending: counts.pending,
        delivered: counts.delivered,
        deadLetters: counts.dead,
        failingSince: r.failingSince === null ? null : new Date(r.failingSince).toISOString(),
        lastStatus: r.lastStatus,
      };
    });
  }

  has(name: string): boolean {
    return this.endpoints.has(name);
  }

  async deliveries(name: string, limit: number) {
    await this.outbox.flushed();
    return this.outbox.recentAttempts(name, limit);
  }

  async deadLetters(name: string, limit: number) {
    await this.outbox.flushed();
    return this.outbox.deadLetters(name, limit);
  }

  redeliver(name: string, eventId: string): Promise<boolean> {
    return this.outbox.redeliver(name, eventId);
  }

  enable(name: string): void {
    this.outbox.setEndpointDisabled(name, false, null);
    this.endpoints.get(name)?.worker.wake();
  }

  async ping(name: string): Promise<AttemptOutcome> {
    const runtime = this.endpoints.get(name)!;
    let result: AttemptOutcome | null = null;
    const sink = new HttpSink(
      runtime.config,
      (outcome) => {
        result = outcome;
        this.observe(outcome, false);
      },
      this.abort.signal,
    );
    try {
      await sink.write([pingEvent(this.factory)]);
    } catch {
      // The outcome says what happened.
    } finally {
      await sink.close();
    }
    return result!;
  }

  async close(): Promise<void> {
    clearInterval(this.pruneTimer);
    this.abort.abort();
    await Promise.all([...this.endpoints.values()].map((r) => r.worker.stopped()));
    await Promise.all([...this.endpoints.values()].map((r) => r.http.close()));
    await this.outbox.close();
  }
}

/** Counts events entering an endpoint's queue (Distribution's "Events" type). */
class CountingSink implements Sink {
  constructor(
    private readonly inner: Sink,
    private readonly endpoint: string,
    private readonly metrics: NotificationMetrics,
  ) {}

  async write(events: Event[]): Promise<void> {
    await this.inner.write(events);
    this.metrics.events.inc({ type: 'Events', endpoint: this.endpoint }, events.length);
  }

  close(): Promise<void> {
    return this.inner.close();
  }
}
