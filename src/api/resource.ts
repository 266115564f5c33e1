import { RegistryError } from '../oci/errors.ts';
import type { Handler } from './handler.ts';
import type { Method, V2Router } from './v2-router.ts';

/**
 * Registers one resource path with its handlers, each a handler or `[guard, handler]` (the access
 * it needs, checked first); any other method gets 405 UNSUPPORTED with an `Allow` header, as an
 * error body like every other.
 */
export function resource(router: V2Router, path: RegExp, handlers: Partial<Record<Method, Handler | Handler[]>>): void {
  const methods: Partial<Record<Method, Handler[]>> = {};
  for (const method of Object.keys(handlers) as Method[]) methods[method] = [handlers[method]!].flat();
  router.resource(path, methods);
}

/** Refuses a DELETE when `storage.delete.enabled` is false, as Distribution does. */
export function deletion(enabled: boolean, handler: Handler[]): Handler[] {
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
