import { RegistryError } from '../oci/errors.ts';
import type { Guards } from './guards.ts';
import type { ApiRequest, ApiResponse, Handler } from './handler.ts';
import { Header } from './headers.ts';

/** The methods a read-only registry still serves on `/v2/`. */
const READ_METHODS = new Set(['GET', 'HEAD']);

/**
 * `storage.maintenance.readonly.enabled`: the guards of the routes that write (upload start,
 * chunk, completion and cancel, mount, manifest PUT, any DELETE) refuse a write with 405 and
 * `Allow: GET, HEAD` once the caller passed the route's auth check, before the handler or any
 * store runs: nothing is stored and no event is emitted, while an anonymous client gets the 401
 * and its challenge, and learns nothing else, as from Distribution (whose read-only middleware
 * runs after its auth). Distribution 2.8.2 answers the same status and Allow header, with a
 * plain-text body; ours is the spec's `UNSUPPORTED` error. An upload's status (GET, behind the
 * push guard) is still served. The operator API and the token service are not registry writes
 * and stay.
 */
export function readOnlyGuards(guards: Guards): Guards {
  return { ...guards, push: thenRefuseWrites(guards.push), delete: thenRefuseWrites(guards.delete) };
}

function thenRefuseWrites(guard: Handler): Handler {
  return async (req, res, next) => {
    await passes(guard, req, res);
    if (READ_METHODS.has(req.method)) return next();
    throw new RegistryError('UNSUPPORTED', 'the registry is in read-only mode (storage.maintenance.readonly.enabled: true)', {
      headers: { [Header.Allow]: [...READ_METHODS].join(', ') },
      detail: { method: req.method, setting: 'storage.maintenance.readonly.enabled' },
    });
  };
}

/** Resolves when `guard` lets the request through (calls next), rejects with what it threw or passed to next. */
function passes(guard: Handler, req: ApiRequest, res: ApiResponse): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const next = (err?: unknown) => (err === undefined || err === null ? resolve() : reject(err instanceof Error ? err : new Error(String(err))));
    Promise.resolve(guard(req, res, next)).catch(reject);
  });
}
