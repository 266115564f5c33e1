import { once } from 'node:events';
import { createServer, type IncomingHttpHeaders, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import type { Event } from '../../src/notify/event.ts';

/**
 * A real webhook receiver on loopback (node:http on 127.0.0.1), for notification tests. Each
 * request is recorded verbatim (raw body, headers) and answered as the programmable behaviour
 * says: a status, a hang (no answer at all) or a connection reset.
 */

/** One request the receiver got. */
export interface ReceivedRequest {
  /** 0-based arrival index. */
  index: number;
  method: string;
  url: string;
  headers: IncomingHttpHeaders;
  /** The body exactly as received. */
  raw: string;
  /** The body parsed as JSON, or undefined when it is not JSON. */
  body: unknown;
  /** Date.now() when the whole body had arrived. */
  at: number;
  /** How it was answered (set once decided). */
  outcome?: number | 'hang' | 'reset';
}

/**
 * A status (with headers and body; `stall`: send the head and body but never end the response),
 * `hang` (never answer) or `reset` (destroy the connection).
 */
export type Reply = { status: number; headers?: Record<string, string>; body?: string; stall?: boolean } | 'hang' | 'reset';
/** Decides the answer to one request; may be async (e.g. to call the registry first). */
export type Behaviour = (request: ReceivedRequest) => Reply | Promise<Reply>;

export const ok: Behaviour = () => ({ status: 200, body: 'ok' });

/** Answers with `failure` for the first `n` requests, then as `then` says. */
export function failFirst(n: number, failure: Reply, then: Behaviour = ok): Behaviour {
  let seen = 0;
  return (request) => (seen++ < n ? failure : then(request));
}

export class WebhookReceiver {
  /** Every request, in arrival order (answered or not). */
  readonly requests: ReceivedRequest[] = [];
  behaviour: Behaviour;
  private readonly hung = new Set<ServerResponse>();
  private waiters: (() => void)[] = [];

  private constructor(
    private readonly server: Server,
    readonly port: number,
    behaviour: Behaviour,
  ) {
    this.behaviour = behaviour;
  }

  /** Starts listening on 127.0.0.1 (`port` 0: an ephemeral one). */
  static async start(behaviour: Behaviour = ok, port = 0): Promise<WebhookReceiver> {
    const server = createServer();
    server.keepAliveTimeout = 30_000;
    server.listen(port, '127.0.0.1');
    await once(server, 'listening');
    const receiver = new WebhookReceiver(server, (server.address() as AddressInfo).port, behaviour);
    server.on('request', (req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => void receiver.handle(req.method ?? '', req.url ?? '', req.headers, Buffer.concat(chunks), res, req.socket));
    });
    return receiver;
  }

  /** The URL to configure as the endpoint (path `/hook` unless told). */
  url(path = '/hook'): string {
    return `http://127.0.0.1:${this.port}${path}`;
  }

  private async handle(method: string, url: string, headers: IncomingHttpHeaders, data: Buffer, res: ServerResponse, socket: Socket): Promise<void> {
    const raw = data.toString('utf8');
    let body: unknown;
    try {
      body = JSON.parse(raw);
    } catch {
      body = undefined;
    }
    const request: ReceivedRequest = { index: this.requests.length, method, url, headers, raw, body, at: Date.now() };
    this.requests.push(request);
    let reply: Reply;
    try {
      reply = await this.behaviour(request);
    } catch (err) {
      reply = { status: 599, body: `behaviour threw: ${String(err)}` };
    }
    if (reply === 'hang') {
      request.outcome = 'hang';
      this.hung.add(res);
      res.on('close', () => this.hung.delete(res));
    } else if (reply === 'reset') {
      request.outcome = 'reset';
      socket.destroy();
    } else {
      request.outcome = reply.status;
      res.writeHead(reply.status, { 'content-type': 'text/plain', ...reply.headers });
      if (reply.stall) {
        res.write(reply.body ?? 'partial');
        this.hung.add(res);
        res.on('close', () => this.hung.delete(res));
      } else {
        res.end(reply.body ?? '');
      }
    }
    this.notify();
  }

  private notify(): void {
    const waiters = this.waiters;
    this.waiters = [];
    for (const w of waiters) w();
  }

  /** Requests answered 2xx: the deliveries the registry may count as done. */
  accepted(): ReceivedRequest[] {
    return this.requests.filter((r) => typeof r.outcome === 'number' && r.outcome >= 200 && r.outcome < 300);
  }

  /** The events of every 2xx-answered request, in arrival order. */
  events(): Event[] {
    return this.accepted().flatMap((r) => eventsOf(r));
  }

  /** Forgets everything received so far. */
  clear(): void {
    this.requests.length = 0;
  }

  /** Resolves once `predicate` holds (checked after each request); rejects after `timeoutMs` with `describe`. */
  async until(predicate: () => boolean, timeoutMs: number, describe: () => string): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!predicate()) {
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`webhook receiver: ${describe()} (waited ${timeoutMs} ms)`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, Math.min(left, 100));
        this.waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }

  /** Waits until at least `count` events have been accepted; returns all accepted events. */
  async waitFor(count: number, timeoutMs = 5_000): Promise<Event[]> {
    await this.until(
      () => this.events().length >= count,
      timeoutMs,
      () => `expected ${count} delivered events, got ${this.events().length}: ${summary(this.events())}; requests answered ${this.requests.map((r) => r.outcome ?? '?').join(',')}`,
    );
    return this.events();
  }

  /** Waits until at least `count` requests have arrived (whatever their answer). */
  async waitForRequests(count: number, timeoutMs = 5_000): Promise<ReceivedRequest[]> {
    await this.until(
      () => this.requests.length >= count,
      timeoutMs,
      () => `expected ${count} requests, got ${this.requests.length}`,
    );
    return this.requests;
  }

  /** Stops listening and drops every connection, hung ones included. */
  async close(): Promise<void> {
    for (const res of this.hung) res.destroy();
    const closed = once(this.server, 'close');
    this.server.close();
    this.server.closeAllConnections();
    await closed;
  }
}

/** The events in one request's envelope (none when it is not one). */
export function eventsOf(request: ReceivedRequest): Event[] {
  const body = request.body as { events?: unknown } | undefined;
  return Array.isArray(body?.events) ? (body.events as Event[]) : [];
}

/** `push blob repo`, `delete tag repo:tag`... for failure messages. */
export function summary(events: Event[]): string {
  return `[${events
    .map((e) => `${e.action} ${e.target.tag !== undefined && e.target.digest === undefined ? `tag ${e.target.repository}:${e.target.tag}` : `${e.target.mediaType ?? '?'} ${e.target.repository}`}`)
    .join('; ')}]`;
}
