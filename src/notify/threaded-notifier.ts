import { MessageChannel } from 'node:worker_threads';
import type { Logger } from 'pino';
import { threadLogOptions } from '../logger.ts';
import type { RequestContext } from '../oci/request-context.ts';
import type { Repository } from '../storage/repository.ts';
import type { EndpointDefinition, EndpointStatus, NotificationAdmin, NotificationsHealth, PendingPolicy } from './admin.ts';
import { DeliveryClient } from './delivery/delivery-client.ts';
import type { AttemptOutcome } from './delivery/http-sink.ts';
import type { IntentRecord } from './events/change-intent.ts';
import { EventJournal } from './events/event-journal.ts';
import { countByEndpoint, EventRouter } from './events/event-router.ts';
import { EventFilter } from './events/filter.ts';
import { inOrderOf, listen } from './events/listener.ts';
import { pingEvent } from './events/ping.ts';
import { ListenerState } from './events/pull-reports.ts';
import { EventFactory } from './events/source.ts';
import { NotificationMetrics } from './metrics.ts';
import type { Notifier } from './notifier.ts';
import type { NotifyOptions } from './options.ts';
import { OutboxClient, type AttemptRecord } from './outbox/outbox-client.ts';
import { openOutboxBackend, type OutboxBackend } from './outbox/outbox-backend.ts';
import type { QueuedEvent } from './outbox/outbox-reads.ts';
import type { Event } from './event.ts';
import type { DeliveryMessage, DeliveryMethod, DeliveryMethods, DeliveryRequest, EventRange } from './protocol.ts';
import { Supervisor } from './threads/supervisor.ts';
import { DEFAULT_TIMINGS, type NotificationTimings, type NotifierDeps } from './notifier-deps.ts';
import { armedFor, parseThreadFailpoints, THREAD_FAILPOINTS_ENV } from './threads/thread-failpoint.ts';
import { startThread } from './threads/thread.ts';
import { notificationsHealth } from './threads/notifications-health.ts';
import { unavailable, withDeadline } from './threads/unavailable.ts';
import type { RuntimeEndpoints } from './runtime/runtime-endpoints.ts';
import { runtimeEndpoints } from './runtime/runtime-wiring.ts';


/**
 * The `Notifier` for configured endpoints, across three threads (protocol.ts: what crosses):
 *   - here (the registry's thread, events/): the listener runs each change inside the journal (an
 *     intent before the store is touched, its events after, in one transaction with the intent's
 *     end) and the router picks each event's endpoints by their filters;
 *   - the outbox writer thread (outbox/) commits intents and events to SQLite, in groups, before
 *     the client's answer;
 *   - the delivery thread (delivery/) drains each endpoint's queue (DeliveryWorker -> RetryingSink
 *     -> HttpSink), so delivery never competes with requests for this event loop.
 * Both threads are supervised (threads/): a death is noticed at once, whoever waits on the thread gets a
 * 503 at once, and the thread is restarted with back-off, resuming from the outbox. Every call
 * across threads, and the shutdown, has a deadline.
 * Knows nothing of Express: the API reaches it through `Notifier` and `NotificationAdmin`.
 */
export class ThreadedNotifier implements Notifier, NotificationAdmin {
  private readonly factory: EventFactory;
  private readonly journal: EventJournal;
  private readonly outbox: OutboxClient;
  private readonly writer: Supervisor;
  private readonly delivery: Supervisor;
  private readonly names: Set<string>;
  private readonly metrics: NotificationMetrics;
  /** The listener's shared state: per-tag order, and pull reports waiting for their response. */
  private readonly listening: ListenerState;
  private readonly timings: NotificationTimings;
  private readonly calls: DeliveryClient;
  private closing: Promise<void> | null = null;
  private readonly backend: OutboxBackend;
  private sweep: NodeJS.Timeout | null = null;
  /** Endpoints created through the operator API; null until built (the delivery thread starts first). */
  private runtime: RuntimeEndpoints | null = null;
  /** Resolves once both threads run and the changes a crash interrupted are settled (the server listens only then). */
  readonly ready: Promise<void>;

  constructor(
    options: NotifyOptions,
    deps: NotifierDeps,
    private readonly logger: Logger,
  ) {
    this.backend = openOutboxBackend(options.outbox);
    const writerThread = this.backend.writer;
    this.timings = { ...DEFAULT_TIMINGS, ...deps.timings };
    const failpoints = parseThreadFailpoints(process.env[THREAD_FAILPOINTS_ENV]);

    this.outbox = new OutboxClient(null, {
      whileDetached: 'fail',
      unavailable: (reason) => unavailable(reason, { thread: 'outbox-writer', state: this.writer.state }),
      deadlineMs: this.timings.commitMs,
      stuck: () => this.writer.kill(`missed its ${this.timings.commitMs} ms commit deadline`),
      durableIntents: options.outbox.durableIntents,
    });
    this.writer = new Supervisor(
      'outbox-writer',
      (incarnation) =>
        startThread(import.meta.url, writerThread.entry, {
          workerData: { ...writerThread.workerData, log: threadLogOptions(logger), failpoints: armedFor(failpoints, incarnation) },
        }),
      {
        started: (_worker, incarnation) => {
          if (incarnation > 0) this.metrics.restarted('outbox-writer');
        },
        up: (worker) => {
          this.outbox.attach(worker);
          this.link();
        },
        down: (err) => this.outbox.detach(unavailable('the outbox writer thread is down', { thread: 'outbox-writer', reason: err.message })),
      },
      logger,
      this.timings.supervision,
    );
    this.delivery = new Supervisor(
      'delivery',
      (incarnation) =>
        startThread(import.meta.url, './delivery/delivery-thread', {
          // With the runtime endpoints there are now: a restarted thread delivers them too.
          workerData: { options: { ...options, endpoints: [...options.endpoints, ...(this.runtime?.delivered() ?? [])] }, log: threadLogOptions(logger), failpoints: armedFor(failpoints, incarnation) },
        }),
      {
        started: (worker, incarnation) => {
          worker.on('message', (m: DeliveryMessage) => this.calls.received(m));
          if (incarnation > 0) this.metrics.restarted('delivery');
        },
        up: () => this.link(),
        down: (err) => this.calls.failAll(unavailable('the delivery thread is down', { thread: 'delivery', reason: err.message })),
      },
      logger,
      this.timings.supervision,
    );
    this.factory = new EventFactory(deps.sourceAddr, options.includeReferences);
    this.listening = new ListenerState(logger, deps.metrics);
    const active = options.endpoints;
    const router = new EventRouter(active.map((e) => ({ endpoint: e.name, filter: new EventFilter(e.filter) })));
    this.journal = new EventJournal(
      this.outbox,
      router,
      this.factory,
      {
        repositories: deps.repositories,
        committed: (rows) => {
          for (const [endpoint, n] of countByEndpoint(rows)) this.metrics.apply({ m: 'events', type: 'Events', endpoint, n });
        },
        inOrderOf: (change, task) => inOrderOf(this.listening.tagOrder, change, task),
      },
      logger,
    );
    const runtime = runtimeEndpoints(options, deps.parseEndpoint, {
      route: (endpoints) => router.setRuntimeRoutes(endpoints.map((e) => ({ endpoint: e.name, filter: new EventFilter(e.filter) }))),
      put: async (endpoint) => void (await this.call('putEndpoint', endpoint)),
      drop: async (name) => void (await this.call('dropEndpoint', name)),
      flushed: () => this.outbox.flushed(),
      status: () => this.status(),
    }, logger);
    this.runtime = runtime;
    this.ready = Promise.all([this.writer.ready, this.delivery.ready]).then(
      async () => {
        await runtime.start(); // routed from the first request on, and by what a crash left
        if (!options.deliver) return; // a guest: the registry serving this outbox settles what crashes left
        await this.reconcile();
        if (this.backend.sweepMs !== null) {
          this.sweep = setInterval(() => void this.reconcile().catch((err: unknown) => this.logger.warn({ err }, 'orphaned intents not settled yet')), this.backend.sweepMs);
          this.sweep.unref();
        }
      },
      async (err: unknown) => {
        await Promise.all([this.writer.close(), this.delivery.close(), this.backend.close(), runtime.close()]);
        throw err;
      },
    );
    this.names = new Set(active.map((e) => e.name));
    this.calls = new DeliveryClient(
      this.delivery,
      this.writer,
      { callMs: this.timings.callMs, pingMs: this.timings.callMs + Math.max(0, ...active.map((e) => e.timeoutMs)) },
      (updates) => {
        for (const update of updates) this.metrics.apply(update);
      },
    );
    this.metrics = new NotificationMetrics(deps.metrics, () => this.call('pending'));
  }

  listen(repository: Repository, ctx: RequestContext): Repository {
    return listen(repository, ctx, this.factory, this.journal, this.listening);
  }

  /**
   * Settles what a crash left between a change and its events: before the first request, and
   * with a shared outbox again every so often (a replica that died for good leaves its own).
   */
  private async reconcile(): Promise<void> {
    await this.backend.interrupted(async (records: IntentRecord[]) => {
      const { emitted, dropped } = await this.journal.reconcile(records);
      this.logger.warn({ intents: records.length, emitted, dropped }, 'changes interrupted by a crash were reconciled with the store');
    });
  }

  /** Once both threads are up (again): a fresh line from the delivery thread to the writer. */
  private link(): void {
    const writer = this.writer.live;
    const delivery = this.delivery.live;
    if (!writer || !delivery) return;
    const { port1, port2 } = new MessageChannel();
    writer.postMessage({ kind: 'delivery', port: port1 }, [port1]);
    delivery.postMessage({ kind: 'writer', port: port2 } satisfies DeliveryRequest, [port2]);
  }

  private call<M extends DeliveryMethod>(method: M, ...args: Parameters<DeliveryMethods[M]>): Promise<ReturnType<DeliveryMethods[M]>> {
    return this.calls.call(method, ...args);
  }

  // --- NotificationAdmin: answered by the delivery thread ---

  async status(): Promise<EndpointStatus[]> {
    // What has concluded is counted: a pull reported after its response is in the queue first.
    await this.listening.settled();
    return this.runtimes.decorate(await this.call('status'));
  }

  // --- Runtime endpoints (runtime/runtime-endpoints.ts) ---

  createEndpoint(definition: Record<string, unknown>, options: { inbox?: boolean } = {}): Promise<EndpointStatus> {
    return this.runtimes.create(definition, options.inbox ?? false);
  }

  replaceEndpoint(name: string, definition: Record<string, unknown>): Promise<EndpointStatus> {
    return this.runtimes.replace(name, definition);
  }

  removeEndpoint(name: string, pending: PendingPolicy | null): Promise<'removed' | 'draining'> {
    return this.runtimes.remove(name, pending);
  }

  endpointDefinition(name: string): EndpointDefinition | null {
    return this.runtimes.definition(name);
  }

  endpointSecrets(name: string): string[] | null {
    return this.runtimes.secrets(name);
  }

  has(name: string): boolean {
    return this.names.has(name) || this.runtimes.has(name);
  }

  private get runtimes(): RuntimeEndpoints {
    return this.runtime!;
  }

  deliveries(name: string, limit: number): Promise<AttemptRecord[]> {
    return this.call('deliveries', name, limit);
  }

  deadLetters(name: string, limit: number): Promise<(QueuedEvent & { error: string | null; status: number | null })[]> {
    return this.call('deadLetters', name, limit);
  }

  redeliver(name: string, eventId: string): Promise<boolean> {
    return this.call('redeliver', name, eventId);
  }

  async replay(name: string, range: EventRange): Promise<number> {
    return this.call('replay', name, range);
  }

  async events(range: EventRange, limit: number): Promise<Event[]> {
    await this.listening.settled(); // a pull reported after its response is in the outbox first
    return this.call('events', range, limit);
  }

  async enable(name: string): Promise<void> {
    await this.call('enable', name);
  }

  ping(name: string): Promise<AttemptOutcome> {
    return this.call('ping', name, pingEvent(this.factory));
  }

  health(): Promise<NotificationsHealth> {
    const checks = { commit: () => this.outbox.probe(), answer: () => this.call('pending') };
    return notificationsHealth(this.writer, this.delivery, checks, this.timings.healthMs);
  }

  /**
   * Stops delivery (queued events stay on disk), commits what is pending, stops the threads.
   * Resolves within the close deadline even if a thread is stuck: it is terminated.
   */
  close(): Promise<void> {
    this.closing ??= (async () => {
      const drain = async () => {
        await this.listening.settled();
        if (this.delivery.live) await this.call('close');
        await this.outbox.close();
      };
      await this.runtimes.close().catch((err: unknown) => this.logger.warn({ err }, 'runtime endpoints store not closed cleanly'));
      this.journal.close();
      if (this.sweep) clearInterval(this.sweep);
      try {
        await withDeadline(drain(), this.timings.closeMs, () => new Error(`shutdown did not finish within ${this.timings.closeMs} ms`));
      } catch (err) {
        this.logger.warn({ err }, 'notifications did not close cleanly; terminating their threads');
      }
      await Promise.all([this.delivery.close(), this.writer.close()]);
      await this.backend.close();
      this.calls.failAll(unavailable('notifications are shut down'));
    })();
    return this.closing;
  }
}
