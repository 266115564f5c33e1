import { mkdirSync } from 'node:fs';
import * as path from 'node:path';
import { MessageChannel, type Worker } from 'node:worker_threads';
import type { Logger } from 'pino';
import type { Registry as MetricsRegistry } from 'prom-client';
import type { NotificationsConfig } from '../config/notifications.ts';
import type { RequestContext } from '../oci/request-context.ts';
import type { Repository } from '../storage/repository.ts';
import type { EndpointStatus, NotificationAdmin } from './admin.ts';
import type { DeliveryCall, DeliveryMessage } from './delivery-protocol.ts';
import type { Event } from './event.ts';
import { EventFilter, FilterSink } from './filter.ts';
import type { AttemptOutcome } from './http-sink.ts';
import { listen } from './listener.ts';
import { NotificationMetrics } from './metrics.ts';
import type { Notifier } from './notifier.ts';
import { OutboxClient, type AttemptRecord } from './outbox-client.ts';
import { createOutbox, type QueuedEvent } from './outbox-reader.ts';
import { pingEvent } from './ping.ts';
import { QueueSink } from './queue-sink.ts';
import { Broadcaster, type Sink } from './sink.ts';
import { EventFactory } from './source.ts';
import { startThread } from './thread.ts';

/**
 * Notifications as configured, across three threads:
 *   - here (the registry's thread): the listener turns completed operations into events, and
 *     per endpoint a filter and a durable queue take them (Broadcaster -> FilterSink -> QueueSink);
 *   - the outbox writer thread commits them to SQLite, in groups, before the client's answer;
 *   - the delivery thread drains each endpoint's queue (DeliveryWorker -> RetryingSink -> HttpSink),
 *     so delivery never competes with requests for this event loop.
 * Knows nothing of Express: the API reaches it through `Notifier` and `NotificationAdmin`.
 */
export class Notifications implements Notifier, NotificationAdmin {
  private readonly factory: EventFactory;
  private readonly broadcaster: Sink;
  private readonly writer: Worker;
  private readonly outbox: OutboxClient;
  private readonly delivery: Worker;
  private readonly names: Set<string>;
  private readonly metrics: NotificationMetrics;
  private readonly calls = new Map<number, { resolve: (v: unknown) => void; reject: (e: unknown) => void }>();
  private nextCall = 1;
  /** Resolves once the delivery thread is running (the server listens only then). */
  readonly ready: Promise<void>;
  private markReady!: () => void;
  private failReady!: (err: unknown) => void;

  constructor(
    config: NotificationsConfig,
    options: { storageRoot: string; sourceAddr: () => string; metrics: MetricsRegistry; logLevel: string },
    private readonly logger: Logger,
  ) {
    const file = config.outbox.path ?? path.join(options.storageRoot, '_notifications', 'outbox.sqlite');
    mkdirSync(path.dirname(file), { recursive: true });
    createOutbox(file);

    const channel = new MessageChannel(); // the delivery thread's own line to the writer
    this.writer = startThread(import.meta.url, 'outbox-writer', {
      workerData: { file, delivery: channel.port1 },
      transferList: [channel.port1],
    });
    this.outbox = new OutboxClient(this.writer);
    this.delivery = startThread(import.meta.url, 'delivery-thread', {
      workerData: { config, file, writer: channel.port2, logLevel: options.logLevel },
      transferList: [channel.port2],
    });
    this.ready = new Promise((resolve, reject) => {
      this.markReady = resolve;
      this.failReady = reject;
    });
    for (const thread of [this.writer, this.delivery]) {
      thread.on('error', (err) => {
        this.logger.error({ err }, 'notifications thread failed');
        this.failReady(err);
        this.outbox.failAll(err);
        for (const c of this.calls.values()) c.reject(err);
        this.calls.clear();
      });
    }
    this.delivery.on('message', (m: DeliveryMessage) => this.received(m));

    this.factory = new EventFactory(options.sourceAddr, config.events.includereferences);
    const active = config.endpoints.filter((e) => !e.disabled);
    this.names = new Set(active.map((e) => e.name));
    this.metrics = new NotificationMetrics(options.metrics, () => this.call('pending') as Promise<Record<string, number>>);
    this.broadcaster = new Broadcaster(
      active.map((e) => new FilterSink(new EventFilter(e), new CountingSink(new QueueSink(this.outbox, e.name), e.name, this.metrics))),
    );
  }

  listen(repository: Repository, ctx: RequestContext): Repository {
    return listen(repository, ctx, this.factory, this.broadcaster);
  }

  private received(message: DeliveryMessage): void {
    if (message.kind === 'ready') {
      this.markReady();
      return;
    }
    if (message.kind === 'metrics') {
      for (const update of message.updates) this.metrics.apply(update);
      return;
    }
    const pending = this.calls.get(message.id);
    if (!pending) return;
    this.calls.delete(message.id);
    if (message.error !== undefined) pending.reject(new Error(message.error));
    else pending.resolve(message.value);
  }

  private call(method: DeliveryCall['method'], ...args: unknown[]): Promise<unknown> {
    const id = this.nextCall++;
    return new Promise((resolve, reject) => {
      this.calls.set(id, { resolve, reject });
      this.delivery.postMessage({ kind: 'call', id, method, args } satisfies DeliveryCall);
    });
  }

  // --- NotificationAdmin: answered by the delivery thread ---

  status(): Promise<EndpointStatus[]> {
    return this.call('status') as Promise<EndpointStatus[]>;
  }

  has(name: string): boolean {
    return this.names.has(name);
  }

  deliveries(name: string, limit: number): Promise<AttemptRecord[]> {
    return this.call('deliveries', name, limit) as Promise<AttemptRecord[]>;
  }

  deadLetters(name: string, limit: number): Promise<(QueuedEvent & { error: string | null; status: number | null })[]> {
    return this.call('deadLetters', name, limit) as Promise<(QueuedEvent & { error: string | null; status: number | null })[]>;
  }

  redeliver(name: string, eventId: string): Promise<boolean> {
    return this.call('redeliver', name, eventId) as Promise<boolean>;
  }

  async enable(name: string): Promise<void> {
    await this.call('enable', name);
  }

  ping(name: string): Promise<AttemptOutcome> {
    return this.call('ping', name, pingEvent(this.factory)) as Promise<AttemptOutcome>;
  }

  /** Stops delivery (queued events stay on disk), commits what is pending, stops the threads. */
  async close(): Promise<void> {
    await this.call('close');
    await this.outbox.close();
    await Promise.all([this.delivery.terminate(), this.writer.terminate()]);
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
    this.metrics.apply({ m: 'events', type: 'Events', endpoint: this.endpoint, n: events.length });
  }

  close(): Promise<void> {
    return this.inner.close();
  }
}
