import { request, type IncomingHttpHeaders, type OutgoingHttpHeaders } from 'node:http';
import { connect } from 'node:net';
import { readdir } from 'node:fs/promises';
import * as path from 'node:path';

/**
 * Requests sent with node:http and a raw `path`: nothing normalises `..` segments or
 * percent-encodings on the way, unlike fetch (undici) and URL.
 */
export interface RawResponse {
  status: number;
  headers: IncomingHttpHeaders;
  body: Buffer;
  /** The body parsed as JSON; throws when it is not JSON. */
  json<T = unknown>(): T;
}

export interface RawRequest {
  method?: string;
  /** Sent exactly as given, e.g. `/v2/%2e%2e/manifests/x`. */
  path: string;
  headers?: OutgoingHttpHeaders;
  body?: Buffer | string;
}

export function rawRequest(base: string, req: RawRequest, timeoutMs = 10_000): Promise<RawResponse> {
  const url = new URL(base);
  return new Promise((resolve, reject) => {
    let settled = false;
    const done = (err: Error | null, res?: RawResponse) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      if (err) reject(err);
      else resolve(res!);
    };
    // `outgoing` is not there yet if request() throws (a path node:http refuses): the timer must not touch it then.
    let outgoing: ReturnType<typeof request> | undefined;
    const timer = setTimeout(() => {
      outgoing?.destroy();
      done(new Error(`${req.method ?? 'GET'} ${req.path.slice(0, 100)}: no response within ${timeoutMs} ms`));
    }, timeoutMs);
    outgoing = request(
      {
        host: url.hostname,
        port: url.port,
        method: req.method ?? 'GET',
        path: req.path,
        headers: req.headers,
        agent: false,
      },
      (incoming) => {
        const chunks: Buffer[] = [];
        incoming.on('data', (c: Buffer) => chunks.push(c));
        incoming.on('error', (err) => done(err));
        incoming.on('end', () => {
          const body = Buffer.concat(chunks);
          done(null, {
            status: incoming.statusCode ?? 0,
            headers: incoming.headers,
            body,
            json: <T>() => JSON.parse(body.toString('utf8')) as T,
          });
        });
      },
    );
    // The server may answer (413, 416) before it has read the whole body and then close the
    // connection: a write error after that is expected, the response is what counts.
    outgoing.on('error', (err) => {
      setTimeout(() => done(err), 200).unref();
    });
    if (req.body !== undefined) outgoing.end(req.body);
    else outgoing.end();
  });
}

/**
 * Sends bytes on a plain TCP socket and returns the status code of the response's status line
 * (0 when the server closed without answering). For request lines node:http refuses to send.
 */
export function rawSocketStatus(base: string, text: string, timeoutMs = 5_000): Promise<{ status: number; response: string }> {
  const url = new URL(base);
  return new Promise((resolve, reject) => {
    const socket = connect({ host: url.hostname, port: Number(url.port) });
    const chunks: Buffer[] = [];
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`raw socket: no answer within ${timeoutMs} ms`));
    }, timeoutMs);
    socket.on('connect', () => socket.write(text));
    socket.on('data', (c: Buffer) => {
      chunks.push(c);
      // One response is enough; stop once its head has arrived.
      if (Buffer.concat(chunks).includes('\r\n\r\n')) socket.end();
    });
    socket.on('error', () => undefined);
    socket.on('close', () => {
      clearTimeout(timer);
      const response = Buffer.concat(chunks).toString('latin1');
      const m = /^HTTP\/1\.[01] (\d{3})/.exec(response);
      resolve({ status: m ? Number(m[1]) : 0, response });
    });
  });
}

/** Every file and directory under `dir`, as sorted paths relative to it (bounded walk). */
export async function listTree(dir: string, limit = 10_000): Promise<string[]> {
  const out: string[] = [];
  const walk = async (rel: string): Promise<void> => {
    const entries = await readdir(path.join(dir, rel), { withFileTypes: true });
    for (const e of entries) {
      if (out.length >= limit) return;
      const child = rel ? `${rel}/${e.name}` : e.name;
      out.push(child);
      if (e.isDirectory()) await walk(child);
    }
  };
  await walk('');
  return out.sort();
}
