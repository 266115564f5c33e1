import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Request, RequestHandler, Response } from 'express';
import type { Logger } from 'pino';
import { pinoHttp } from 'pino-http';
import { elapsedSeconds, exchangeOf } from './exchange.ts';
import { contextOf } from './request-context.ts';

/**
 * The access log: one line per request, written when the response is over (or the client went
 * away: `aborted`). The id is the request context's, so it is also the `X-Request-Id` header and
 * the `request.id` of the events the request caused. 5xx lines are `error`, the rest `info`.
 */
export function requestLog(logger: Logger): RequestHandler {
  const fields = (req: IncomingMessage, res: ServerResponse) => accessFields(req as Request, res as Response);
  const middleware = pinoHttp<IncomingMessage, ServerResponse, never>({
    logger,
    genReqId: (_req, res) => contextOf(res as Response).id,
    customAttributeKeys: { reqId: 'id' },
    // The line is ours alone (no request or response dumps: they carry the Authorization header).
    quietReqLogger: true,
    quietResLogger: true,
    wrapSerializers: false,
    serializers: { req: () => undefined },
    customLogLevel: (_req, res, err) => (err || res.statusCode >= 500 ? 'error' : 'info'),
    customSuccessObject: fields,
    customErrorObject: fields,
    customSuccessMessage: (req, res) => message(req as Request, res as Response),
    customErrorMessage: (req, res) => message(req as Request, res as Response),
  });
  return middleware as unknown as RequestHandler;
}

function accessFields(req: Request, res: Response): Record<string, unknown> {
  const exchange = exchangeOf(res);
  const ctx = contextOf(res);
  return {
    method: req.method,
    url: req.originalUrl,
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
function routePattern(req: Request, fromTable: string | null): string | null {
  const matched = (req.route as { path?: unknown } | undefined)?.path;
  if (!pathOf(req).startsWith('/v2') && typeof matched === 'string') return matched;
  return fromTable;
}

function message(req: Request, res: Response): string {
  return `${req.method} ${pathOf(req)} ${res.statusCode}`;
}

/** The path as the client sent it (routers rewrite `req.url` while they run), without the query. */
function pathOf(req: Request): string {
  const url = req.originalUrl;
  const q = url.indexOf('?');
  return q === -1 ? url : url.slice(0, q);
}
