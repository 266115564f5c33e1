import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from 'pino';
import { pinoHttp } from 'pino-http';
import { elapsedSeconds, exchangeOf } from './exchange.ts';
import { pathOf, type ApiResponse, type Middleware } from './handler.ts';
import { contextOf } from './request-context.ts';

/**
 * The access log: one line per request, written when the response is over (or the client went
 * away: `aborted`). The id is the request context's, so it is also the `X-Request-Id` header and
 * the `request.id` of the events the request caused. 5xx lines are `error`, the rest `info`.
 */
export function requestLog(logger: Logger): Middleware {
  const fields = (req: IncomingMessage, res: ServerResponse) => accessFields(req, res as ApiResponse);
  const middleware = pinoHttp<IncomingMessage, ServerResponse, never>({
    logger,
    genReqId: (_req, res) => contextOf(res as ApiResponse).id,
    customAttributeKeys: { reqId: 'id' },
    // The line is ours alone (no request or response dumps: they carry the Authorization header).
    quietReqLogger: true,
    quietResLogger: true,
    wrapSerializers: false,
    serializers: { req: () => undefined },
    customLogLevel: (_req, res, err) => (err || res.statusCode >= 500 ? 'error' : 'info'),
    customSuccessObject: fields,
    customErrorObject: fields,
    customSuccessMessage: (req, res) => message(req, res),
    customErrorMessage: (req, res) => message(req, res),
  });
  return middleware as unknown as Middleware;
}

function accessFields(req: IncomingMessage, res: ApiResponse): Record<string, unknown> {
  const exchange = exchangeOf(res);
  const ctx = contextOf(res);
  return {
    method: req.method,
    url: (req as { originalUrl?: string }).originalUrl ?? req.url,
    route: routePattern(req, exchange.route),
    handler: exchange.handler,
    ...(exchange.repository !== undefined ? { repository: exchange.repository } : {}),
    status: res.statusCode,
    bytesIn: exchange.bytesIn,
    bytesOut: exchange.bytesOut,
    durationMs: Math.round(elapsedSeconds(exchange) * 1e6) / 1e3,
    ...(ctx.actor !== undefined ? { actor: ctx.actor } : {}),
    client: ctx.clientIp,
    useragent: ctx.useragent,
    ...(res.writableFinished ? {} : { aborted: true }),
  };
}

/** Outside `/v2/`, the pattern Express matched (`/notifications/endpoints/:name/replay`) when there was one. */
function routePattern(req: IncomingMessage, fromTable: string | null): string | null {
  const matched = (req as { route?: { path?: unknown } }).route?.path;
  if (!pathOf(req).startsWith('/v2') && typeof matched === 'string') return matched;
  return fromTable;
}

function message(req: IncomingMessage, res: ServerResponse): string {
  return `${req.method} ${pathOf(req)} ${res.statusCode}`;
}
