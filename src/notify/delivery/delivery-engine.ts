import type { Logger } from 'pino';
import type { EndpointStatus } from '../admin.ts';
import type { Event } from '../event.ts';
import { statusLabel, type MetricReporter } from '../metric-updates.ts';
import type { EndpointOptions, NotifyOptions } from '../options.ts';
import type { AttemptRecord, OutboxClient } from '../outbox/outbox-client.ts';
import type { OutboxReader, QueuedEvent } from '../outbox/outbox-reader.ts';
import { threadFailpoint } from '../threads/thread-failpoint.ts';
import { AttemptLedger } from './attempt-ledger.ts';
import { DeliveryWorker, type EndpointQueue } from './delivery-worker.ts';
import { HttpSink, type AttemptOutcome } from './http-sink.ts';
import { logRemovedEndpoints, removedEndpoints, removedStatus } from './removed-endpoints.ts';
import { RetryingSink } from './retrying-sink.ts';
import { publicKeyOf } from './signing.ts';

const PRUNE_INTERVAL_MS = 60_000;

/** `publickey` of an endpoint that signs with Ed25519 (its key resolved at start). */
function publicKey(endpoint: EndpointOptions): Pick<EndpointStatus, 'publickey'> {
  return typeof endpoint.ed25519 === 'object' && endpoint.ed25519 ? { publickey: publicKeyOf(endpoint.ed25519.privateKey) } : {};
}

interface EndpointRuntime {
  endpoint: EndpointOptions;
  http: HttpSink;
  worker: DeliveryWorker;
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
  private readonly disabled: Map<string, string | null>;
  private readonly pruneTimer: NodeJS.Timeout;
  /** Every endpoint in the configuration, disabled ones included: the rest are removed. */
  private readonly configured: ReadonlySet<string>;

  constructor(
    options: NotifyOptions,
    private readonly writer: OutboxClient,
    private readonly reader: OutboxReader,
    private readonly report: MetricReporter,
    private readonly logger: Logger,
  ) {
    this.disabled = reader.disabledEndpoints();
    for (const endpoint of options.endpoints) {
      this.endpoints.set(endpoint.name, this.build(endpoint));
    }
    writer.onCommitted((names) => {
      for (const name of names) this.endpoints.get(name)?.worker.wake();
    });
    for (const runtime of this.endpoints.values()) runtime.worker.start();
    this.configured = new Set([...options.endpoints.map((e) => e.name), ...options.disabledEndpoints]);
    const removed = removedEndpoints(reader, this.configured);
    const { retentionMs, deadLetterRetentionMs } = options.outbox;
    logRemovedEndpoints(removed, deadLetterRetentionMs, logger);
    const prune = () => writer.prune(retentionMs, deadLetterRetentionMs, [...removedEndpoints(reader, this.configured).keys()]);
    prune(); // upkeep runs in the writer thread between commits, in small batches
    this.pruneTimer = setInterval(prune, PRUNE_INTERVAL_MS).unref();
  }

  private build(endpoint: EndpointOptions): EndpointRuntime {
    const name = endpoint.name;
    const http = new HttpSink(endpoint, (outcome) => this.observe(outcome), this.abort.signal);
    const ledger = new AttemptLedger(this.writer);
    const retrying = new RetryingSink(name, http, endpoint.retry, ledger, this.abort.signal);
    const queue: EndpointQueue = {
      next: (afterSeq, limit) => this.reader.next(name, afterSeq, limit),
      isDisabled: () => this.disabled.has(name),
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
      this.abort.signal,
      this.logger,
      {
        delivered: (batch: QueuedEvent[], now: number) => {
          for (const q of batch) {
            this.report({ m: 'latency', endpoint: name, seconds: (now - Date.parse(q.event.timestamp)) / 1000 });
          }
        },
        dead: (batch: QueuedEvent[]) => this.report({ m: 'deadLetters', endpoint: name, n: batch.length }),
      },
    );
    // Health as the delivery log left it, so a restart does not make a failing endpoint look fine.
    const health = this.reader.health(name);
    return { endpoint, http, worker, failingSince: health.failingSince, lastStatus: health.lastStatus };
  }

  /** Every attempt goes to the delivery log; `countInMetrics` is false for pings, which carry no registry event. */
  private observe(outcome: AttemptOutcome, countInMetrics = true): void {
    const runtime = this.endpoints.get(outcome.endpoint);
    const ok = outcome.status !== null && outcome.status >= 200 && outcome.status < 300;
    if (runtime) {
      runtime.lastStatus = outcome.status;
      runtime.failingSince = ok ? null : (runtime.failingSince ?? Date.now());
    }
    this.writer.recordAttempt({
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
    if (outcome.status !== null) this.report({ m: 'status', code: statusLabel(outcome.status), endpoint, n });
    this.report({ m: 'events', type: ok ? 'Successes' : outcome.status === null ? 'Errors' : 'Failures', endpoint, n });
    this.report({ m: 'attempts', endpoint, outcome: ok ? 'success' : outcome.status === null ? 'error' : 'failure' });
  }

  async status(): Promise<EndpointStatus[]> {
    await this.writer.flushed();
    const configured = [...this.endpoints.values()].map((r): EndpointStatus => {
      const name = r.endpoint.name;
      const counts = this.reader.counts(name);
      return {
        name,
        url: r.endpoint.url,
        removed: false,
        disabled: this.disabled.has(name),
        disabledReason: this.disabled.get(name) ?? null,
        pending: counts.pending,
        delivered: counts.delivered,
        deadLetters: counts.dead,
        failingSince: r.failingSince === null ? null : new Date(r.failingSince).toISOString(),
        lastStatus: r.lastStatus,
        ...publicKey(r.endpoint),
      };
    });
    const removed = [...removedEndpoints(this.reader, this.configured)].map(([name, counts]) => removedStatus(name, counts));
    return [...configured, ...removed];
  }

  async pending(): Promise<Record<string, number>> {
    const out: Record<string, number> = {};
    for (const name of this.endpoints.keys()) out[name] = this.reader.counts(name).pending;
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
    if (found) this.endpoints.get(name)?.worker.wake();
    return found;
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
    const sink = new HttpSink(runtime.endpoint, (outcome) => {
      result = outcome;
      this.observe(outcome, false);
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

  async close(): Promise<void> {
    clearInterval(this.pruneTimer);
    this.abort.abort();
    await Promise.all([...this.endpoints.values()].map((r) => r.worker.stopped()));
    await Promise.all([...this.endpoints.values()].map((r) => r.http.close()));
    await this.writer.close();
    this.reader.close();
  }
}
