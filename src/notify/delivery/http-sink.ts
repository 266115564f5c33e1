import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { LookupFunction } from 'node:net';
import { Agent } from 'undici';
import { guardedLookup, targetPort } from '../endpoint-targets.ts';
import type { Event } from '../event.ts';
import type { EndpointOptions } from '../options.ts';
import { DeliveryError, parseRetryAfter } from './delivery-error.ts';
import { envelopeEncoder, type EnvelopeEncoder } from './envelope-encoding.ts';
import { post } from './post.ts';
import { privateKeyOf, signatureHeaders } from './signing.ts';
import type { Sink } from './sink.ts';

const USER_AGENT = 'Dockyard-Notifications/0.1';

export interface AttemptOutcome {
  endpoint: string;
  events: Event[];
  status: number | null;
  latencyMs: number;
  error: string | null;
  response: string | null;
}

/** Told of every attempt, successful or not (delivery log, metrics). */
export type AttemptObserver = (outcome: AttemptOutcome) => void;

/**
 * Makes exactly one attempt to POST the events to the endpoint. Success is a 2xx only; anything
 * else (3xx included, as Standard Webhooks says) is a DeliveryError for the retrying sink.
 */
export class HttpSink implements Sink {
  private readonly agent: Agent;
  private readonly headers: Record<string, string>;
  private readonly encode: EnvelopeEncoder;
  private readonly url: URL;

  constructor(
    private readonly endpoint: EndpointOptions,
    private readonly observe: AttemptObserver,
    /** Aborts an attempt in flight when the registry shuts down (the event stays queued). */
    private readonly shutdown?: AbortSignal,
  ) {
    const tls = endpoint.tls;
    this.agent = new Agent({
      keepAliveTimeout: 30_000,
      connections: 4,
      connect: {
        timeout: endpoint.timeoutMs,
        ...(tls?.caFile ? { ca: readFileSync(tls.caFile) } : {}),
        ...(tls?.certificateFile ? { cert: readFileSync(tls.certificateFile) } : {}),
        ...(tls?.keyFile ? { key: readFileSync(tls.keyFile) } : {}),
        rejectUnauthorized: !(tls?.insecureSkipVerify ?? false),
        // A runtime endpoint's target is checked again on every connection (DNS rebinding).
        ...(endpoint.targets ? { lookup: guardedLookup(endpoint.targets, targetPort(endpoint.url)) as LookupFunction } : {}),
      },
    });
    this.headers = {};
    for (const [name, value] of Object.entries(endpoint.headers)) {
      this.headers[name.toLowerCase()] = Array.isArray(value) ? value.join(', ') : value;
    }
    this.headers['user-agent'] ??= USER_AGENT;
    this.encode = envelopeEncoder(endpoint);
    this.url = new URL(endpoint.url);
    // Checked once here: a key the notifier left unresolved, or a bad one, fails the build loudly.
    if (endpoint.ed25519 === 'generate') throw new Error(`endpoint ${endpoint.name}: its Ed25519 key was not resolved at start`);
    if (endpoint.ed25519) privateKeyOf(endpoint.ed25519.privateKey);
  }

  async write(events: Event[]): Promise<void> {
    const encoded = this.encode(events);
    const body = encoded.body;
    // Signed over the exact bytes sent, whatever the envelope.
    const headers = { ...this.headers, ...encoded.headers, ...signatureHeaders(this.endpoint, messageId(events), body) };
    const started = performance.now();
    const outcome: AttemptOutcome = { endpoint: this.endpoint.name, events, status: null, latencyMs: 0, error: null, response: null };
    try {
      const res = await post(this.agent, { url: this.url, body, headers, timeoutMs: this.endpoint.timeoutMs, signal: this.shutdown });
      outcome.status = res.status;
      outcome.latencyMs = performance.now() - started;
      // The status decides; a body that stalled or broke afterwards changes nothing.
      outcome.response = res.head;
      if (res.status >= 200 && res.status < 300) {
        this.observe(outcome);
        return;
      }
      outcome.error = `endpoint answered ${res.status}`;
      this.observe(outcome);
      const retryAfter = res.status === 429 || res.status === 503 ? header(res.headers['retry-after']) : undefined;
      throw new DeliveryError(outcome.error, res.status, parseRetryAfter(retryAfter));
    } catch (err) {
      if (err instanceof DeliveryError) throw err;
      outcome.latencyMs = performance.now() - started;
      outcome.error = describe(err, this.endpoint.timeoutMs);
      this.observe(outcome);
      throw new DeliveryError(outcome.error, null);
    }
  }

  async close(): Promise<void> {
    await this.agent.close();
  }
}

/**
 * The `webhook-id` of a delivery: the event's id, or for a batch an id derived from its events,
 * so that every retry of the same batch carries the same id.
 */
export function messageId(events: Event[]): string {
  if (events.length === 1) return events[0]!.id;
  const hash = createHash('sha256');
  for (const e of events) hash.update(e.id).update('\n');
  return `batch_${hash.digest('hex').slice(0, 32)}`;
}

function header(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}

function describe(err: unknown, timeout: number): string {
  const e = err as { name?: string; code?: string; message?: string };
  if (e.name === 'TimeoutError' || e.code === 'UND_ERR_HEADERS_TIMEOUT' || e.code === 'UND_ERR_BODY_TIMEOUT') {
    return `no answer within ${timeout} ms`;
  }
  return e.code ? `${e.code}: ${e.message ?? ''}`.trim() : (e.message ?? String(err));
}
