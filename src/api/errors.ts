import type { IncomingMessage } from 'node:http';
import type { Logger } from 'pino';
import { RegistryError, isRegistryError } from '../oci/errors.ts';
import { storageFull, storageUnavailable } from '../storage/storage-fault.ts';
import { isAdminError } from './admin-error.ts';
import { pathOf, type ApiResponse, type Next } from './handler.ts';
import { Header } from './headers.ts';

/**
 * The one place where errors become HTTP responses: the spec's JSON body
 * `{"errors":[{"code","message","detail"}]}` with the status the error table gives. Every body
 * carries a `detail`: the thrower's, or else the request id, which finds the request in the log.
 */
export function errorRenderer(logger: Logger): (err: unknown, req: IncomingMessage, res: ApiResponse, next: Next) => void {
  // Four parameters: Express knows an error handler by its arity.
  return (err, req, res, _next) => {
    const error = isAdminError(err) ? err : toRegistryError(err);
    const requestId = (res.locals.ctx as { id?: string } | undefined)?.id;
    if (error.status >= 500) {
      logger.error({ err, method: req.method, url: (req as { originalUrl?: string }).originalUrl ?? req.url, id: requestId }, 'request failed');
    }
    if (res.headersSent) {
      // The body was under way (a blob stream broke): all we can do is cut the connection.
      res.destroy();
      return;
    }
    // A request whose body we did not read must not be parsed as the next request.
    if (!req.complete) res.setHeader('Connection', 'close');
    for (const [name, value] of Object.entries(error.headers)) res.setHeader(name, value);
    const body = { code: error.code, message: error.message, detail: error.detail ?? { requestId: requestId ?? null } };
    res.statusCode = error.status;
    res.setHeader(Header.ContentType, 'application/json; charset=utf-8');
    res.end(req.method === 'HEAD' ? undefined : JSON.stringify({ errors: [body] }));
  };
}

/** Anything that reaches the renderer becomes a RegistryError with one of the spec's codes. */
function toRegistryError(err: unknown): RegistryError {
  if (isRegistryError(err)) return err;
  const full = storageFull(err) ?? storageUnavailable(err);
  if (full) return full;
  const status = (err as { status?: unknown } | null)?.status;
  if (typeof status === 'number' && status >= 400 && status < 500) {
    // Errors raised by Express itself for malformed requests (bad percent-encoding, ...).
    const reason = String((err as Error).message || 'malformed request').slice(0, 200);
    if (status === 413) return new RegistryError('SIZE_INVALID', 'request body is too large', { status, detail: { reason } });
    return new RegistryError('UNSUPPORTED', reason, { status: 400, detail: { reason } });
  }
  // The spec has no code for a server fault; UNSUPPORTED is the least misleading of its 14,
  // and the status (500) says what happened.
  return new RegistryError('UNSUPPORTED', 'internal server error', { status: 500 });
}

/** Unknown paths, inside or outside /v2/. */
export function notFoundError(req: IncomingMessage): RegistryError {
  const path = pathOf(req).slice(0, 200);
  return new RegistryError('UNSUPPORTED', `no route for ${req.method} ${path}`, { status: 404, detail: { method: req.method, path } });
}

export function notFound(req: IncomingMessage): void {
  throw notFoundError(req);
}
