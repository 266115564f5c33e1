import type { IncomingMessage } from 'node:http';
import { pathOf, type ApiResponse, type Middleware } from './handler.ts';

/**
 * The routes by name, for logs and metrics: `handler` is Distribution's route name (its metrics'
 * `handler` label, so dashboards carry over), `route` the pattern with the parameters named. In
 * the order the app registers them: the first whose regex matches is the one that runs. The
 * regexes are the route files' own; V2Router refuses to register one that is not here.
 */
const V2_ROUTES: readonly { handler: string; route: string; regex: RegExp }[] = [
  // First: the requests most clients make most (a pull is mostly manifest and blob reads); no other route's regex matches a manifest path.
  { handler: 'manifest', route: '/v2/:name/manifests/:reference', regex: /^\/v2\/(.+)\/manifests\/([^/]+)$/ },
  { handler: 'base', route: '/v2/', regex: /^\/v2\/?$/ },
  { handler: 'catalog', route: '/v2/_catalog', regex: /^\/v2\/_catalog$/ },
  { handler: 'tags', route: '/v2/:name/tags/list', regex: /^\/v2\/(.+)\/tags\/list$/ },
  { handler: 'referrers', route: '/v2/:name/referrers/:digest', regex: /^\/v2\/(.+)\/referrers\/([^/]+)$/ },
  { handler: 'blob-upload', route: '/v2/:name/blobs/uploads/', regex: /^\/v2\/(.+)\/blobs\/uploads\/?$/ },
  { handler: 'blob-upload-chunk', route: '/v2/:name/blobs/uploads/:uuid', regex: /^\/v2\/(.+)\/blobs\/uploads\/([^/]+)$/ },
  { handler: 'blob', route: '/v2/:name/blobs/:digest', regex: /^\/v2\/(.+)\/blobs\/([^/]+)$/ },
];

/** The operator API, health and token routes, by path prefix: few, fixed names. */
const OTHER_ROUTES: readonly { handler: string; prefix: string }[] = [
  { handler: 'healthz', prefix: '/healthz' },
  { handler: 'readyz', prefix: '/readyz' },
  { handler: 'notifications', prefix: '/notifications/' },
  { handler: 'token', prefix: '/auth/' },
];

/** Longest repository name a log line carries (the spec's limit is 255 with the host). */
const MAX_LOGGED_NAME = 256;

/** What one request moved and took, measured from the moment the app saw it. */
export interface Exchange {
  readonly started: bigint;
  /** The route's name; `none` when no route has the path (bounded: never a raw path). */
  readonly handler: string;
  /** The route pattern (`/v2/:name/manifests/:reference`), or null for no route. */
  readonly route: string | null;
  /** The repository the path names, as sent (it may be invalid; the route then refuses it). */
  readonly repository: string | undefined;
  /** Request body bytes received, as they came off the wire (after chunked decoding). */
  bytesIn: number;
  /** Response body bytes handed to the socket. */
  bytesOut: number;
}

export function exchangeOf(res: ApiResponse): Exchange {
  return res.locals.exchange as Exchange;
}

export function elapsedSeconds(exchange: Exchange): number {
  return Number(process.hrtime.bigint() - exchange.started) / 1e9;
}

/** Names the route and counts the body bytes both ways, for the access log and the metrics. */
export function measureExchange(): Middleware {
  return (req, res, next) => {
    const exchange: Exchange = { started: process.hrtime.bigint(), ...routeOf(pathOf(req)), bytesIn: 0, bytesOut: 0 };
    res.locals.exchange = exchange;
    // The HTTP parser pushes each body chunk into the request: counting there sees every byte
    // received without reading the stream (a 'data' listener would start it flowing).
    const push = req.push;
    req.push = function (this: IncomingMessage, chunk: unknown, encoding?: BufferEncoding) {
      exchange.bytesIn += byteLength(chunk, encoding);
      return push.call(this, chunk, encoding);
    };
    const write = res.write;
    res.write = function (this: ApiResponse, chunk: unknown, ...rest: unknown[]) {
      exchange.bytesOut += byteLength(chunk, typeof rest[0] === 'string' ? (rest[0] as BufferEncoding) : undefined);
      return (write as (...args: unknown[]) => boolean).call(this, chunk, ...rest);
    } as ApiResponse['write'];
    const end = res.end;
    res.end = function (this: ApiResponse, chunk?: unknown, ...rest: unknown[]) {
      if (typeof chunk !== 'function') {
        exchange.bytesOut += byteLength(chunk, typeof rest[0] === 'string' ? (rest[0] as BufferEncoding) : undefined);
      }
      return (end as (...args: unknown[]) => ApiResponse).call(this, chunk, ...rest);
    } as ApiResponse['end'];
    next();
  };
}

const V2_REGEXES = new Set(V2_ROUTES.map((r) => r.regex.source));

/** Whether the table names this `/v2/` route. */
export function isV2Route(regex: RegExp): boolean {
  return V2_REGEXES.has(regex.source);
}

function routeOf(path: string): Pick<Exchange, 'handler' | 'route' | 'repository'> {
  if (path.startsWith('/v2')) {
    for (const r of V2_ROUTES) {
      const m = r.regex.exec(path);
      if (m) return { handler: r.handler, route: r.route, repository: m[1]?.slice(0, MAX_LOGGED_NAME) };
    }
    return { handler: 'none', route: null, repository: undefined };
  }
  for (const r of OTHER_ROUTES) {
    if (path === r.prefix || (r.prefix.endsWith('/') && path.startsWith(r.prefix))) {
      return { handler: r.handler, route: r.prefix.endsWith('/') ? `${r.prefix}*` : r.prefix, repository: undefined };
    }
  }
  return { handler: 'none', route: null, repository: undefined };
}

function byteLength(chunk: unknown, encoding: BufferEncoding | undefined): number {
  if (typeof chunk === 'string') return Buffer.byteLength(chunk, encoding ?? 'utf8');
  if (chunk instanceof Uint8Array) return chunk.byteLength;
  return 0;
}
