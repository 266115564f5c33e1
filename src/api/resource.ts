import type { RequestHandler, Router } from 'express';
import { RegistryError } from '../oci/errors.ts';
import { Header } from './headers.ts';

type Method = 'GET' | 'HEAD' | 'PUT' | 'POST' | 'PATCH' | 'DELETE';

/**
 * Registers one resource path with its handlers, each a handler or `[guard, handler]` (the access
 * it needs, checked first); any other method gets 405 UNSUPPORTED with an `Allow` header, as an
 * error body like every other.
 */
export function resource(router: Router, path: RegExp, handlers: Partial<Record<Method, RequestHandler | RequestHandler[]>>): void {
  const route = router.route(path);
  const allowed = Object.keys(handlers) as Method[];
  for (const method of allowed) {
    const chain = [handlers[method]!].flat();
    switch (method) {
      case 'GET': route.get(...chain); break;
      case 'HEAD': route.head(...chain); break;
      case 'PUT': route.put(...chain); break;
      case 'POST': route.post(...chain); break;
      case 'PATCH': route.patch(...chain); break;
      case 'DELETE': route.delete(...chain); break;
    }
  }
  route.all((req) => {
    throw new RegistryError('UNSUPPORTED', `method ${req.method} is not supported on this resource`, {
      headers: { [Header.Allow]: allowed.join(', ') },
      detail: { method: req.method, allowed },
    });
  });
}

/** Refuses a DELETE when `storage.delete.enabled` is false, as Distribution does. */
export function deletion(enabled: boolean, handler: RequestHandler[]): RequestHandler[] {
  if (enabled) return handler;
  return [() => {
    throw new RegistryError('UNSUPPORTED', 'deletion is disabled on this registry (storage.delete.enabled: false)', {
      detail: { setting: 'storage.delete.enabled' },
    });
  }];
}

/** Where a resource lives, relative unless `http.host` names the public URL. */
export function location(externalBaseUrl: string | undefined, path: string): string {
  return externalBaseUrl ? `${externalBaseUrl.replace(/\/$/, '')}${path}` : path;
}
