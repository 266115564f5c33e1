/** HTTP for the fsync benchmark: node:http through a keep-alive agent (as registry clients do), with idle timeouts. */
import * as http from 'node:http';
import type { Readable } from 'node:stream';
import { REQUEST_TIMEOUT_MS } from './settings.ts';

export interface Reply {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
}

/** One request; the response body is read (at most 64 KiB kept). `body` is a Buffer or a stream. */
export function request(agent: http.Agent, url: URL, method: string, headers: Record<string, string>, body?: Buffer | Readable): Promise<Reply> {
  return new Promise<Reply>((resolve, reject) => {
    const req = http.request(url, { method, headers, agent });
    req.setTimeout(REQUEST_TIMEOUT_MS, () => req.destroy(new Error(`${method} ${url.pathname}: idle for ${REQUEST_TIMEOUT_MS} ms`)));
    req.on('error', reject);
    req.on('response', (res) => {
      res.setTimeout(REQUEST_TIMEOUT_MS, () => res.destroy(new Error(`${method} ${url.pathname}: response idle`)));
      let out = '';
      res.on('data', (d: Buffer) => {
        if (out.length < 65536) out += d.toString('utf8');
      });
      res.on('error', reject);
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: out }));
    });
    if (body === undefined) req.end();
    else if (Buffer.isBuffer(body)) req.end(body);
    else {
      body.on('error', (err) => req.destroy(err));
      body.pipe(req);
    }
  });
}

export function expect(reply: Reply, want: number, what: string): Reply {
  if (reply.status !== want) throw new Error(`${what}: expected ${want}, got ${reply.status}: ${reply.body.slice(0, 500)}`);
  return reply;
}

export function locationOf(reply: Reply, base: URL, what: string): URL {
  const loc = reply.headers.location;
  if (!loc) throw new Error(`${what}: no Location header`);
  return new URL(loc, base);
}

/** `url` with `digest=` added to its query. */
export function withDigest(url: URL, digest: string): URL {
  const u = new URL(url.href);
  u.searchParams.set('digest', digest);
  return u;
}

/** Seconds on CLOCK_MONOTONIC. */
export function now(): number {
  return Number(process.hrtime.bigint()) / 1e9;
}
