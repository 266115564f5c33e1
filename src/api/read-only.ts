import type { RequestHandler } from 'express';
import { RegistryError } from '../oci/errors.ts';
import { Header } from './headers.ts';

/** The methods a read-only registry still serves on `/v2/`. */
const READ_METHODS = new Set(['GET', 'HEAD']);

/**
 * `storage.maintenance.readonly.enabled`: every write under `/v2/` (upload start, chunk,
 * completion and cancel, mount, manifest PUT, any DELETE) gets 405 with `Allow: GET, HEAD`
 * before any handler or store runs, so nothing is stored and no event is emitted. Distribution
 * 2.8.2 answers the same status and Allow header, with a plain-text body; ours is the spec's
 * `UNSUPPORTED` error. The operator API and the token service are not registry writes and stay.
 */
export function readOnlyGuard(): RequestHandler {
  return (req, _res, next) => {
    if (READ_METHODS.has(req.method) || !(req.path === '/v2' || req.path.startsWith('/v2/'))) return next();
    throw new RegistryError('UNSUPPORTED', 'the registry is in read-only mode (storage.maintenance.readonly.enabled: true)', {
      headers: { [Header.Allow]: [...READ_METHODS].join(', ') },
      detail: { method: req.method, setting: 'storage.maintenance.readonly.enabled' },
    });
  };
}
