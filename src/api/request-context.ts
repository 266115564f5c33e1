import { randomUUID } from 'node:crypto';
import type { Request, RequestHandler, Response } from 'express';
import type { RequestContext } from '../oci/request-context.ts';
import type { ClientAddress } from './client-address.ts';
import { Header } from './headers.ts';

/** An `X-Request-Id` we carry on as ours: a short token, nothing a log line or header could trip on. */
const SANE_REQUEST_ID = /^[A-Za-z0-9][A-Za-z0-9._:@+=-]{0,127}$/;

/** Captures the request's facts once, for events, logs and access checks. */
export function requestContext(externalBaseUrl: string | undefined, clients: ClientAddress): RequestHandler {
  return (req, res, next) => {
    const host = req.headers.host ?? '';
    const client = clients.resolve(req.socket.remoteAddress ?? '', req.headers['x-forwarded-for']);
    const id = requestId(req.headers[Header.RequestId.toLowerCase()], client.proxied);
    res.setHeader(Header.RequestId, id);
    const ctx: RequestContext = {
      id,
      addr: client.proxied ? client.ip : formatAddress(client.ip, req.socket.remotePort),
      clientIp: client.ip,
      host,
      method: req.method,
      useragent: req.headers['user-agent'] ?? '',
      baseUrl: externalBaseUrl ?? `${req.protocol}://${host}`,
      concluded: new Promise<boolean>((resolve) => {
        res.once('finish', () => resolve(true));
        // A client that closes as soon as it has the last byte may be seen closing before 'finish':
        // the whole body was handed over once end() was reached.
        res.once('close', () => resolve(res.writableFinished || res.writableEnded));
      }),
    };
    res.locals.ctx = ctx;
    next();
  };
}

export function contextOf(res: Response): RequestContext {
  return res.locals.ctx as RequestContext;
}

export function isHead(req: Request): boolean {
  return req.method === 'HEAD';
}

/**
 * The request's id: the one a trusted proxy passed on (`X-Request-Id`, when `http.trustedproxies`
 * names the peer and it named the client), so one id follows the request through both logs;
 * otherwise ours. A client talking to us directly cannot choose the id its events carry.
 */
function requestId(incoming: string | string[] | undefined, viaTrustedProxy: boolean): string {
  if (viaTrustedProxy && typeof incoming === 'string' && SANE_REQUEST_ID.test(incoming)) return incoming;
  return randomUUID();
}

function formatAddress(ip: string, port: number | undefined): string {
  return ip.includes(':') ? `[${ip}]:${port ?? 0}` : `${ip}:${port ?? 0}`;
}
