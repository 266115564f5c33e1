import { randomUUID } from 'node:crypto';
import type { Request, RequestHandler, Response } from 'express';
import type { RequestContext } from '../oci/request-context.ts';

/** Captures the request's facts once, for events and logs. */
export function requestContext(externalBaseUrl: string | undefined): RequestHandler {
  return (req, res, next) => {
    const host = req.headers.host ?? '';
    const ctx: RequestContext = {
      id: randomUUID(),
      addr: formatAddress(req.socket.remoteAddress, req.socket.remotePort),
      host,
      method: req.method,
      useragent: req.headers['user-agent'] ?? '',
      baseUrl: externalBaseUrl ?? `${req.protocol}://${host}`,
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

function formatAddress(ip: string | undefined, port: number | undefined): string {
  const host = ip?.startsWith('::ffff:') ? ip.slice(7) : (ip ?? '');
  return host.includes(':') ? `[${host}]:${port ?? 0}` : `${host}:${port ?? 0}`;
}
