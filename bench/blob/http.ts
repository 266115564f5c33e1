/** HTTP (node:http, no keep-alive: one connection per request, as a simple client would). */
import * as http from 'node:http';
import type { Readable } from 'node:stream';
import { IDLE_TIMEOUT_MS } from './settings.ts';

export interface Reply {
  status: number;
  headers: http.IncomingHttpHeaders;
  res: http.IncomingMessage;
}

export function call(url: URL, method: string, headers: Record<string, string>, body?: Readable): Promise<Reply> {
  return new Promise<Reply>((resolve, reject) => {
    const req = http.request(url, { method, headers, agent: false });
    req.setTimeout(IDLE_TIMEOUT_MS, () => req.destroy(new Error(`${method} ${url.pathname}: idle for ${IDLE_TIMEOUT_MS} ms`)));
    req.on('error', reject);
    req.on('response', (res) => {
      res.setTimeout(IDLE_TIMEOUT_MS, () => res.destroy(new Error(`${method} ${url.pathname}: response idle`)));
      resolve({ status: res.statusCode ?? 0, headers: res.headers, res });
    });
    if (body) {
      body.on('error', (err) => req.destroy(err));
      body.pipe(req);
    } else {
      req.end();
    }
  });
}

/** Reads a (small) response body, at most 64 KiB kept. */
export async function text(res: http.IncomingMessage): Promise<string> {
  let out = '';
  for await (const chunk of res as AsyncIterable<Buffer>) {
    if (out.length < 65536) out += chunk.toString('utf8');
  }
  return out.slice(0, 65536);
}

export async function expectStatus(reply: Reply, want: number, what: string): Promise<void> {
  if (reply.status === want) {
    await text(reply.res);
    return;
  }
  throw new Error(`${what}: expected ${want}, got ${reply.status}: ${(await text(reply.res)).slice(0, 500)}`);
}

export function locationOf(reply: Reply, base: URL, what: string): URL {
  const loc = reply.headers.location;
  if (!loc) throw new Error(`${what}: no Location header`);
  return new URL(loc, base);
}

/** Seconds on CLOCK_MONOTONIC. */
export function now(): number {
  return Number(process.hrtime.bigint()) / 1e9;
}
