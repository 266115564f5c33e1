import { connect, nanos, headers as natsHeaders, type ConnectionOptions, type NatsConnection, type PubAck } from 'nats';
import { EVENTS_MEDIA_TYPE_V1, EVENTS_MEDIA_TYPE_V2 } from '../envelope-media-types.ts';
import { checkTarget } from '../endpoint-targets.ts';
import type { Event } from '../event.ts';
import type { EndpointOptions, JetStreamOptions } from '../options.ts';
import { DeliveryError } from './delivery-error.ts';
import type { AttemptObserver, AttemptOutcome } from './http-sink.ts';
import { signatureHeaders } from './signing.ts';
import type { Sink } from './sink.ts';

/**
 * The delivery log's status for a PubAck, so the log and metrics read as for HTTP: 200 when the
 * stream stored the message, 208 (Already Reported) when its duplicate window dropped it as a copy
 * of one already stored. Both are success. An error (no connection, no ack in time, the stream
 * refused it) has status null.
 */
export const PUBACK_STORED = 200;
export const PUBACK_DUPLICATE = 208;

/** How long a client waits between reconnect attempts after it lost a server it had. */
const RECONNECT_WAIT_MS = 250;

/**
 * Publishes each event to a JetStream subject as its own message, in order, and counts it
 * delivered only once JetStream acknowledged it (PubAck). `Nats-Msg-Id` is the event id, so a
 * retry or a redelivery inside the stream's duplicate window is dropped by JetStream: the event
 * is in the stream once. A failure is a DeliveryError, for the retrying sink, as for HttpSink.
 *
 * The body is what HttpSink would POST for that one event (`{"events":[event]}`, the endpoint's
 * envelope media type in `Content-Type`), so one parser and the same JSON Schema serve both. The
 * endpoint's headers and, with a secret, the Standard Webhooks headers travel as NATS headers.
 *
 * The duplicate window is the stream's: one created here gets `duplicatewindow` (an hour unless
 * configured), so a retry after a lost PubAck or an operator's redelivery within it adds no copy.
 *
 * One connection per endpoint, made on the first write (a server that is down then is a failed
 * attempt, retried like any other), reconnecting by itself afterwards. The stream is created when
 * missing; an existing stream that does not take the subject is left alone and every attempt fails
 * naming it, until an operator fixes it.
 */
export class JetStreamSink implements Sink {
  private connection: Promise<NatsConnection> | null = null;
  private streamChecked = false;
  private closed = false;
  private readonly staticHeaders: [string, string][] = [];
  private readonly contentType: string;

  constructor(
    private readonly endpoint: EndpointOptions,
    private readonly jetstream: JetStreamOptions,
    private readonly observe: AttemptObserver,
    /** Cuts an attempt in flight short when the registry shuts down (the event stays queued). */
    private readonly shutdown?: AbortSignal,
  ) {
    for (const [name, value] of Object.entries(endpoint.headers)) {
      for (const v of Array.isArray(value) ? value : [value]) this.staticHeaders.push([name, v]);
    }
    this.contentType = endpoint.envelope === 'v2' ? EVENTS_MEDIA_TYPE_V2 : EVENTS_MEDIA_TYPE_V1;
  }

  async write(events: Event[]): Promise<void> {
    for (const event of events) await this.publish(event);
  }

  private async publish(event: Event): Promise<void> {
    const outcome: AttemptOutcome = { endpoint: this.endpoint.name, events: [event], status: null, latencyMs: 0, error: null, response: null };
    const started = performance.now();
    try {
      const ack = await this.cutShort(this.publishOnce(event));
      outcome.status = ack.duplicate ? PUBACK_DUPLICATE : PUBACK_STORED;
      outcome.response = JSON.stringify({ stream: ack.stream, seq: ack.seq, duplicate: ack.duplicate });
      outcome.latencyMs = performance.now() - started;
      this.observe(outcome);
    } catch (err) {
      outcome.latencyMs = performance.now() - started;
      outcome.error = describe(err, this.endpoint.timeoutMs);
      // Look at the stream again next time: it may have been deleted, or fixed.
      this.streamChecked = false;
      this.observe(outcome);
      throw new DeliveryError(outcome.error, null);
    }
  }

  private async publishOnce(event: Event): Promise<PubAck> {
    const nc = await this.connected();
    if (!this.streamChecked) {
      await this.ensureStream(nc);
      this.streamChecked = true;
    }
    const body = JSON.stringify({ events: [event] });
    const h = natsHeaders();
    for (const [name, value] of this.staticHeaders) h.append(name, value);
    h.set('Content-Type', this.contentType);
    // Standard Webhooks headers (none when the endpoint signs nothing), `webhook-id` = the event id.
    for (const [name, value] of Object.entries(signatureHeaders(this.endpoint, event.id, body))) h.set(name, value);
    return nc.jetstream().publish(this.jetstream.subject, body, {
      msgID: event.id,
      headers: h,
      timeout: this.endpoint.timeoutMs,
      expect: { streamName: this.jetstream.stream },
    });
  }

  /** The endpoint's connection, made now if there is none (or the last one closed for good). */
  private connected(): Promise<NatsConnection> {
    if (this.closed) return Promise.reject(new Error('sink closed'));
    if (!this.connection) {
      // A runtime endpoint's host is checked again before each new connection (the guard, as for
      // HTTP; the client's own reconnects to a server it had are not re-checked).
      const targets = this.endpoint.targets;
      const attempt = (targets ? checkTarget(this.endpoint.url, targets) : Promise.resolve()).then(() => connect(this.connectionOptions()));
      this.connection = attempt;
      attempt.then(
        (nc) => {
          void nc.closed().then(() => {
            if (this.connection === attempt) this.connection = null;
          });
          if (this.closed) void nc.close();
        },
        () => {
          if (this.connection === attempt) this.connection = null;
        },
      );
    }
    return this.connection;
  }

  private connectionOptions(): ConnectionOptions {
    const tls = this.endpoint.tls;
    const url = new URL(this.endpoint.url);
    return {
      servers: url.host,
      name: `dockyard-${this.endpoint.name}`,
      timeout: this.endpoint.timeoutMs,
      // A server lost after the first connection is reconnected to forever; publishes meanwhile
      // time out as failed attempts (their buffered copies, sent on reconnect, are duplicates).
      reconnect: true,
      maxReconnectAttempts: -1,
      reconnectTimeWait: RECONNECT_WAIT_MS,
      ...(url.username ? { user: decodeURIComponent(url.username), pass: decodeURIComponent(url.password) } : {}),
      ...(url.protocol === 'tls:' || tls
        ? {
            tls: {
              ...(tls?.caFile ? { caFile: tls.caFile } : {}),
              ...(tls?.certificateFile ? { certFile: tls.certificateFile } : {}),
              ...(tls?.keyFile ? { keyFile: tls.keyFile } : {}),
              ...(tls?.insecureSkipVerify ? { rejectUnauthorized: false } : {}),
            },
          }
        : {}),
    };
  }

  /**
   * Creates the stream when missing, with the configured duplicate window; refuses (without
   * changing it) one that does not take the subject.
   */
  private async ensureStream(nc: NatsConnection): Promise<void> {
    const { stream, subject } = this.jetstream;
    const jsm = await nc.jetstreamManager({ timeout: this.endpoint.timeoutMs });
    try {
      const info = await jsm.streams.info(stream);
      const subjects = info.config.subjects ?? [];
      if (!subjects.some((pattern) => subjectMatches(pattern, subject))) {
        throw new Error(
          `stream ${stream} exists with subjects ${JSON.stringify(subjects)}, which do not include ${subject}: ` +
            `add the subject to the stream, or configure another stream`,
        );
      }
    } catch (err) {
      if (!isStreamNotFound(err)) throw err;
      await jsm.streams.add({ name: stream, subjects: [subject], duplicate_window: nanos(this.jetstream.duplicateWindowMs) });
    }
  }

  private cutShort<T>(work: Promise<T>): Promise<T> {
    const signal = this.shutdown;
    if (!signal) return work;
    if (signal.aborted) return Promise.reject(new Error('shutting down'));
    return new Promise<T>((resolve, reject) => {
      const abort = () => reject(new Error('shutting down'));
      signal.addEventListener('abort', abort, { once: true });
      work.then(resolve, reject).finally(() => signal.removeEventListener('abort', abort));
    });
  }

  async close(): Promise<void> {
    this.closed = true;
    const pending = this.connection;
    this.connection = null;
    // A connection still being made is closed as soon as it is made (see connected()).
    const nc = await pending?.catch(() => null);
    if (nc && !nc.isClosed()) await nc.close();
  }
}

/** NATS subject matching: `*` matches one token, a trailing `>` one or more. */
export function subjectMatches(pattern: string, subject: string): boolean {
  const p = pattern.split('.');
  const s = subject.split('.');
  for (let i = 0; i < p.length; i++) {
    if (p[i] === '>') return s.length > i;
    if (i >= s.length || (p[i] !== '*' && p[i] !== s[i])) return false;
  }
  return p.length === s.length;
}

function isStreamNotFound(err: unknown): boolean {
  const api = (err as { api_error?: { err_code?: number } }).api_error;
  return api?.err_code === 10059 || (err as { code?: string }).code === '404';
}

function describe(err: unknown, timeout: number): string {
  const e = err as { code?: string; message?: string };
  if (e.code === 'TIMEOUT') return `no PubAck within ${timeout} ms`;
  if (e.code === '503') return 'no JetStream responders (is JetStream enabled, and the stream there?)';
  return e.code && !e.message?.includes(e.code) ? `${e.code}: ${e.message ?? ''}`.trim() : (e.message ?? String(err));
}
