import type { Logger } from 'pino';
import type { EndpointStatus } from '../admin.ts';
import type { Event } from '../event.ts';
import type { MetricReporter } from '../metric-updates.ts';
import type { EndpointOptions, NotifyOptions } from '../options.ts';
import type { AttemptRecord, OutboxClient } from '../outbox/outbox-client.ts';
import type { OutboxReads, QueuedEvent } from '../outbox/outbox-reads.ts';
import type { EventRange } from '../protocol.ts';
import { threadFailpoint } from '../threads/thread-failpoint.ts';
import { AttemptLedger } from './attempt-ledger.ts';
import { acknowledged, recordAttempt } from './attempt-observer.ts';
import { DeliveryWorker, type EndpointQueue } from './delivery-worker.ts';
import type { EndpointLeases } from './endpoint-leases.ts';
import { endpointStatus } from './endpoint-status.ts';
import type { AttemptOutcome } from './http-sink.ts';
import { logRemovedEndpoints, removedEndpoints, removedStatus } from './removed-endpoints.ts';
import { RetryingSink } from './retrying-sink.ts';
import type { Sink } from './sink.ts';
import { createSink } from './sink-factory.ts';

const PRUNE_INTERVAL_MS = 60_000;

interface EndpointRuntime {
  endpoint: EndpointOptions;
  /** The endpoint's one-attempt sink (HTTP or JetStream, see sink-factory.ts). */
  http: Sink;
  worker: DeliveryWorker;
  /** Stops this endpoint alone (a runtime endpoint changed or removed). */
  stop: AbortController;
  failingSince: number | null;
  lastStatus: number | null;
}

/**
 * Delivery, for every endpoint: drains each endpoint's durable queue through its retrying HTTP
 * sink, and answers the operator's questions. Runs in the delivery thread (delivery-thread.ts),
 * so its work never competes with the registry's requests for the same event loop.
 */
export class DeliveryEngine {
  private readonly endpoints = new Map<string, EndpointRuntime>();
  private readonly abort = new AbortController();
  private readonly disabled = new Map<string, string | null>();
  /** Each endpoint's current term, with its signal joined to shutdown's (made once per term, not per write). */
  private readonly terms = new Map<string, { controller: AbortController; signal: AbortSignal }>();
  private pruneTimer: NodeJS.Timeout | null = null;
  /** Every endpoint in the configuration (disabled ones included) and every runtime one: the rest are removed. */
  private readonly configured: Set<string>;

  constructor(
    private readonly options: NotifyOptions,
    private readonly writer: OutboxClient,
    private readonly reader: OutboxReads,
    /** Which endpoints this process delivers (all of them, unless replicas share the outbox). */
    private readonly leases: EndpointLeases,
    private readonly report: MetricReporter,
    private readonly logger: Logger,
  ) {
    this.configured = new Set([...options.endpoints.map((e) => e.name), ...options.disabledEndpoints]);
  }

  /** Reads what the outbox remembers (disabled endpoints, health), then starts every endpoint's worker. */
  async start(): Promise<void> {
    const { options, writer, reader, logger } = this;
    for (const [name, reason] of await reader.disabledEndpoints()) this.disabled.set(name, reason);
    for (const endpoint of options.endpoints) {
      const runtime = this.build(endpoint);
      // Health as the delivery log left it, so a restart does not make a failing endpoint look fine.
      Object.assign(runtime, await this.healthOf(endpoint.name));
      this.endpoints.set(endpoint.name, runtime);
    }
    writer.onCommitted((names) => this.wake(names));
    this.leases.start({
      changed: (name, held) => void this.leaseChanged(name, held),
      woken: (names) => void this.woken(names).catch((err: unknown) => this.logger.warn({ err }, 'could not read endpoint states')),
    });
    for (const runtime of this.endpoints.values()) runtime.worker.start();
    const { retentionMs, deadLetterRetentionMs } = options.outbox;
    logRemovedEndpoints(await removedEndpoints(reader, this.configured), deadLetterRetentionMs, logger);
    const prune = async () => {
      const removed = await removedEndpoints(reader, this.configured);
      writer.prune(retentionMs, deadLetterRetentionMs, [...removed.keys()]);
    };
    const pruneLogged = () => void prune().catch((err: unknown) => logger.warn({ err }, 'outbox upkeep not started'));
    pruneLogged(); // upkeep runs in the writer thread between commits, in small batches
    this.pruneTimer = setInterval(pruneLogged, PRUNE_INTERVAL_MS).unref();
  }

  /**
   * The signal that ends an endpoint's retries: shutdown, or the end of this replica's lease on it
   * (a new lease, a new term).
   */
  private term(name: string): AbortSignal {
    let term = this.terms.get(name);
    if (!term || term.controller.signal.aborted) {
      const controller = new AbortController();
      term = { controller, signal: AbortSignal.any([this.abort.signal, controller.signal]) };
      this.terms.set(name, term);
    }
    return term.signal;
  }

  private wake(names: string[]): void {
    for (const name of names) this.endpoints.get(name)?.worker.wake();
  }

  /**
   * Another replica changed an endpoint's state (an operator enabled it there, or its own
   * delivery got a 410): this one, if it delivers the endpoint, reads the state again.
   */
  private async woken(names: string[]): Promise<void> {
    if (names.some((n) => this.leases.holds(n))) {
      const disabled = await this.reader.disabledEndpoints();
      for (const name of names) {
        if (disabled.has(name)) this.disabled.set(name, disabled.get(name) ?? null);
        else this.disabled.delete(name);
      }
    }
    this.wake(names);
  }

  private async healthOf(name: string): Promise<Pick<EndpointRuntime, 'failingSince' | 'lastStatus'>> {
    const health = await this.reader.health(name);
    return { failingSince: health.failingSince, lastStatus: health.lastStatus };
  }

  /**
   * This replica took an endpoint over, or lost it (a shared outbox). Taken over: what the
   * previous holder left (disabled state, health, pending events) is read again, from the start.
   */
  private async leaseChanged(name: string, held: boolean): Promise<void> {
    const runtime = this.endpoints.get(name);
    if (!runtime) return;
    if (!held) {
      this.terms.get(name)?.controller.abort(); // no retry from here: the next holder delivers these events
      runtime.worker.wake(); // it sees the lease is gone and drops what it read ahead
      return;
    }
    try {
      const disabled = await this.reader.disabledEndpoints();
      if (disabled.has(name)) this.disabled.set(name, disabled.get(name) ?? null);
      else this.disabled.delete(name);
      Object.assign(runtime, await this.healthOf(name));
    } catch (err) {
      this.logger.warn({ err, endpoint: name }, 'could not read the endpoint state after taking it over');
    }
    runtime.worker.rewind();
  }

  private build(endpoint: EndpointOptions): EndpointRuntime {
    const name = endpoint.name;
    // A change stops the worker after the attempt in flight (which would otherwise be sent twice):
    // no next batch, no next retry; only shutdown cuts the attempt itself.
    const stop = new AbortController();
    const signal = AbortSignal.any([this.abort.signal, stop.signal]);
    const http = createSink(endpoint, (outcome) => this.observe(outcome), this.abort.signal);
    const ledger = new AttemptLedger(this.writer);
    // AbortSignal.any per write took 4% of the delivery thread at a thousand POSTs a second.
    let retryStop: { term: AbortSignal; signal: AbortSignal } | undefined;
    const retryStopSignal = () => {
      const term = this.term(name);
      if (retryStop?.term !== term) retryStop = { term, signal: AbortSignal.any([term, stop.signal]) };
      return retryStop.signal;
    };
    const retrying = new RetryingSink(name, http, endpoint.retry, ledger, retryStopSignal);
    const queue: EndpointQueue = {
      next: (afterSeq, limit) => this.reader.next(name, afterSeq, limit),
      isDisabled: () => this.disabled.has(name) || !this.leases.holds(name),
      delivered: (seqs, status) => {
        threadFailpoint('delivery.delivered'); // dies after the endpoint's 2xx, before it is recorded
        this.writer.markDelivered(seqs, status);
      },
      dead: (seqs, status, reason) => this.writer.markDead(seqs, status, reason),
      disable: (reason) => {
        this.disabled.set(name, reason);
        this.writer.setEndpointDisabled(name, true, reason);
      },
    };
    const worker = new DeliveryWorker(
      name,
      queue,
      retrying,
      ledger,
      endpoint.batch,
      signal,
      this.logger,
      {
        delivered: (batch: QueuedEvent[], now: number) => {
          for (const q of batch) {
            this.report({ m: 'eventAge', endpoint: name, seconds: (now - Date.parse(q.event.timestamp)) / 1000 });
          }
        },
        dead: (batch: QueuedEvent[]) => this.report({ m: 'deadLetters', endpoint: name, n: batch.length }),
      },
    );
    return { endpoint, http, worker, stop, failingSince: null, lastStatus: null };
  }

  /** Every attempt: the endpoint's health here, then the delivery log and the metrics. */
  private observe(outcome: AttemptOutcome, ping = false): void {
    const runtime = this.endpoints.get(outcome.endpoint);
    if (runtime) {
      runtime.lastStatus = outcome.status;
      runtime.failingSince = acknowledged(outcome) ? null : (runtime.failingSince ?? Date.now());
    }
    recordAttempt(outcome, ping, this.writer, this.report);
  }

  async status(): Promise<EndpointStatus[]> {
    await this.writer.flushed();
    const configured: EndpointStatus[] = [];
    for (const r of this.endpoints.values()) {
      const name = r.endpoint.name;
      const counts = await this.reader.counts(name);
      // Another replica delivers it: its health is in the delivery log, not in this process.
      const health = this.leases.holds(name) ? r : await this.healthOf(name);
      configured.push(endpointStatus({ endpoint: r.endpoint, counts, health, disabledReason: this.disabled.get(name), leased: this.leases.holds(name) }));
    }
    const removed = [...(await removedEndpoints(this.reader, this.configured))].map(([name, counts]) => removedStatus(name, counts));
    return [...configured, ...removed];
  }

  async pending(): Promise<Record<string, number>> {
    const out: Record<string, number> = {};
    for (const name of this.endpoints.keys()) out[name] = (await this.reader.counts(name)).pending;
    return out;
  }

  async deliveries(name: string, limit: number): Promise<AttemptRecord[]> {
    await this.writer.flushed();
    return this.reader.recentAttempts(name, limit);
  }

  async deadLetters(name: string, limit: number) {
    await this.writer.flushed();
    return this.reader.deadLetters(name, limit);
  }

  async redeliver(name: string, eventId: string): Promise<boolean> {
    const found = await this.writer.redeliver(name, eventId);
    // Queued again, so counted again: Successes never exceed Events.
    if (found) this.report({ m: 'events', type: 'Events', endpoint: name, n: 1 });
    if (found) this.endpoints.get(name)?.worker.wake();
    return found;
  }

  /** Queues the endpoint's retained events of the range again (same ids, in their order); how many. */
  async replay(name: string, range: EventRange): Promise<number> {
    const n = await this.writer.replay(name, range);
    if (n > 0) this.report({ m: 'events', type: 'Events', endpoint: name, n });
    if (n > 0) this.endpoints.get(name)?.worker.wake();
    return n;
  }

  async events(range: EventRange, limit: number): Promise<Event[]> {
    await this.writer.flushed();
    return this.reader.events(range, limit);
  }

  async enable(name: string): Promise<void> {
    this.disabled.delete(name);
    this.writer.setEndpointDisabled(name, false, null);
    this.endpoints.get(name)?.worker.wake();
  }

  /** Sends `event` to the endpoint now, outside its queue, and says what happened. */
  async ping(name: string, event: Event): Promise<AttemptOutcome> {
    const runtime = this.endpoints.get(name);
    if (!runtime) throw new Error(`no endpoint ${name}`);
    let result: AttemptOutcome | null = null;
    const sink = createSink(runtime.endpoint, (outcome) => {
      result = outcome;
      this.observe(outcome, true);
    }, this.abort.signal);
    try {
      await sink.write([event]);
    } catch {
      // The outcome says what happened.
    } finally {
      await sink.close();
    }
    return result!;
  }

  /**
   * Starts a runtime endpoint's worker, or restarts it with new options: the old one is stopped
   * first, once the attempt in flight (bounded by its timeout) is over; what it leaves queued goes,
   * same ids, to the new one.
   */
  async put(endpoint: EndpointOptions): Promise<void> {
    await this.stop(endpoint.name);
    const runtime = this.build(endpoint);
    Object.assign(runtime, await this.healthOf(endpoint.name));
    this.endpoints.set(endpoint.name, runtime);
    this.configured.add(endpoint.name);
    this.leases.add(endpoint.name);
    runtime.worker.start();
  }

  /** Stops a removed runtime endpoint's worker; its rows are purged by the main thread. */
  async drop(name: string): Promise<void> {
    await this.stop(name);
    this.configured.delete(name);
    this.leases.remove(name);
  }

  private async stop(name: string): Promise<void> {
    const runtime = this.endpoints.get(name);
    if (!runtime) return;
    this.endpoints.delete(name);
    runtime.stop.abort();
    await runtime.worker.stopped();
    await runtime.http.close();
  }

  async close(): Promise<void> {
    if (this.pruneTimer) clearInterval(this.pruneTimer);
    this.abort.abort();
    await this.leases.close();
    await Promise.all([...this.endpoints.values()].map((r) => r.worker.stopped()));
    await Promise.all([...this.endpoints.values()].map((r) => r.http.close()));
    await this.writer.close();
    await this.reader.close();
  }
}
