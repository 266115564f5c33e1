import type { IncomingMessage, ServerResponse } from 'node:http';

/**
 * A request as the `/v2/` handlers see it: node's own, with the route's captures (percent-decoded)
 * by index, as Express gives a regex route's groups. No framework prototype: see v2-router.ts.
 */
export interface ApiRequest extends IncomingMessage {
  /** A server's request always has one. */
  method: string;
  params: Readonly<Record<number, string | undefined>>;
}

/** A response with `locals`, the request's state shared between the preamble, guards and handler. */
export interface ApiResponse extends ServerResponse {
  locals: Record<string, unknown>;
}

/** Passes on to the next handler, or with an error to the error renderer. */
export type Next = (err?: unknown) => void;

/** A handler or guard: it ends the response, calls `next`, throws, or rejects. */
export type Handler = (req: ApiRequest, res: ApiResponse, next: Next) => void | Promise<void>;

/** Middleware that needs only node's request (the preamble, the operator API's guard). */
export type Middleware = (req: IncomingMessage, res: ApiResponse, next: Next) => void | Promise<void>;

/**
 * Runs middleware in turn: each passes on with `next()` (synchronously or not), or stops with an
 * error (thrown, rejected, or passed to `next`); `done` gets the error, or nothing after the last.
 */
export function runInOrder<Req>(
  chain: readonly ((req: Req, res: ApiResponse, next: Next) => void | Promise<void>)[],
  req: Req,
  res: ApiResponse,
  done: Next,
): void {
  let i = 0;
  const next: Next = (err) => {
    if (err !== undefined && err !== null) return done(err);
    const handler = chain[i++];
    if (!handler) return done();
    try {
      const result = handler(req, res, next);
      if (result instanceof Promise) result.catch(done);
    } catch (caught) {
      done(caught);
    }
  };
  next();
}

/** The path as the client sent it, without the query (an absolute-form target gives its path). */
export function pathOf(req: IncomingMessage): string {
  const url = (req as { originalUrl?: string }).originalUrl ?? req.url ?? '/';
  if (url.charCodeAt(0) !== 0x2f) {
    try {
      return new URL(url).pathname;
    } catch {
      return url;
    }
  }
  const q = url.indexOf('?');
  return q === -1 ? url : url.slice(0, q);
}

/** The query string after `?`, or ''. */
export function queryStringOf(req: IncomingMessage): string {
  const url = req.url ?? '';
  const q = url.indexOf('?');
  return q === -1 ? '' : url.slice(q + 1);
}

/** A JSON body, as Express's `res.json` writes it (no body on HEAD). */
export function sendJson(req: IncomingMessage, res: ServerResponse, value: unknown): void {
  const body = Buffer.from(JSON.stringify(value));
  res.setHeader('Content-Type', 'application/json; charset=utf-8');
  res.setHeader('Content-Length', String(body.length));
  res.end(req.method === 'HEAD' ? undefined : body);
}
