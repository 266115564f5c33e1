import type { RequestHandler, Router } from 'express';
import { RegistryError } from '../oci/errors.ts';
import { Header } from './headers.ts';

type Method = 'GET' | 'HEAD' | 'PUT' | 'POST' | 'PATCH' | 'DELETE';

/**
 * Registers one resource path with its handlers; any other method gets 405 UNSUPPORTED with
 * an `Allow` header, as an error body like every other.
 */
export function resource(router: Router, path: RegExp, handlers: Partial<Record<Method, RequestHandler>>): void {
  const route = router.route(path);
  const allowed = Object.keys(handlers) as Method[];
  for (const method of allowed) {
    const handler = handlers[method]!;
    switch (method) {
      case 'GET': route.get(handler); break;
      case 'HEAD': route.head(handler); break;
      case 'PUT': route.put(handler); break;
      case 'POST': route.post(handler); break;
      case 'PATCH': route.patch(handler); break;
      case 'DELETE': route.delete(handler); break;
    }
  }
  route.all((req) => {
    throw new RegistryError('UNSUPPORTED', `method ${req.method} is not supported on this resource`, {
      headers: { [Header.Allow]: allowed.join(', ') },
    });
  });
}

/** Refuses a DELETE when `storage.delete.enabled` is false, as Distribution does. */
export function deletion(enabled: boolean, handler: RequestHandler): RequestHandler {
  if (enabled) return handler;
  return () => {
    throw new RegistryError('UNSUPPORTED', 'deletion is disabled on this registry (storage.delete.enabled: false)');
  };
}

/** Where a resource lives, relative unless `http.host` names the public URL. */
export function location(externalBaseUrl: string | undefined, path: string): string {
  return externalBaseUrl ? `${externalBaseUrl.replace(/\/$/, '')}${path}` : path;
}
