import { randomUUID } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { TLSSocket } from 'node:tls';
import type { RequestContext } from '../oci/request-context.ts';
import type { ClientAddress } from './client-address.ts';
import type { ApiResponse, Middleware } from './handler.ts';
import { Header } from './headers.ts';

/** An `X-Request-Id` we carry on as ours: a short token, nothing a log line or header could trip on. */
const SANE_REQUEST_ID = /^[A-Za-z0-9][A-Za-z0-9._:@+=-]{0,127}$/;

/** Captures the request's facts once, for events, logs and access checks. */
export function requestContext(externalBaseUrl: string | undefined, clients: ClientAddress): Middleware {
  return (req, res, next) => {
    const host = req.headers.host ?? '';
    const client = clients.resolve(req.socket.remoteAddress ?? '', req.headers['x-forwarded-for']);
    const id = requestId(req.headers[Header.RequestId.toLowerCase()], client.proxied);
    res.setHeader(Header.RequestId, id);
    let concluded: Promise<boolean> | undefined;
    const ctx: RequestContext = {
      id,
      addr: client.proxied ? client.ip : formatAddress(client.ip, req.socket.remotePort),
      clientIp: client.ip,
      host,
      method: req.method ?? '',
      useragent: req.headers['user-agent'] ?? '',
      baseUrl: externalBaseUrl ?? `${(req.socket as TLSSocket).encrypted ? 'https' : 'http'}://${host}`,
      // Made when first asked for (only a pull's event waits on it), not on every request.
      get concluded() {
        return (concluded ??= conclusionOf(res));
      },
    };
    res.locals.ctx = ctx;
    next();
  };
}

/** Whether the response went out whole: known at 'finish', or at 'close' if that came first. */
function conclusionOf(res: ApiResponse): Promise<boolean> {
  if (res.writableFinished) return Promise.resolve(true);
  if (res.closed) return Promise.resolve(res.writableEnded);
  return new Promise<boolean>((resolve) => {
    res.once('finish', () => resolve(true));
    // A client that closes as soon as it has the last byte may be seen closing before 'finish':
    // the whole body was handed over once end() was reached.
    res.once('close', () => resolve(res.writableFinished || res.writableEnded));
  });
}

export function contextOf(res: ApiResponse): RequestContext {
  return res.locals.ctx as RequestContext;
}

export function isHead(req: IncomingMessage): boolean {
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
