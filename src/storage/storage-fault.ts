import { RegistryError } from '../oci/errors.ts';

/** errno codes that mean the registry's disk took no more bytes: the server's fault, not the client's. */
const FULL = new Set(['ENOSPC', 'EDQUOT']);

/**
 * The spec error for a storage write that failed because the disk is full: 507 Insufficient
 * Storage (the spec has no code for it; UNSUPPORTED with the status says it, as for other server
 * faults), with a detail naming the errno. Null for any other error.
 */
export function storageFull(err: unknown): RegistryError | null {
  const code = (err as { code?: unknown } | null)?.code;
  if (typeof code !== 'string' || !FULL.has(code)) return null;
  return new RegistryError('UNSUPPORTED', 'the registry storage is full; try again once space is freed', {
    status: 507,
    detail: { reason: code, syscall: (err as { syscall?: unknown }).syscall ?? null },
  });
}

/**
 * The spec error for a storage service that failed after its client's retries (the AWS SDK's
 * errors: a 5xx, throttling, a connection refused or timed out): 503, saying it is the storage and why, so a
 * client retries later instead of reading "internal server error". Null for any other error.
 */
export function storageUnavailable(err: unknown): RegistryError | null {
  if (typeof err !== 'object' || err === null) return null;
  const e = err as { name?: string; code?: unknown; message?: string; $metadata?: { httpStatusCode?: number } };
  const status = e.$metadata?.httpStatusCode;
  // Only what the storage's client reports (it carries `$metadata`), never a client connection
  // that broke while its request body streamed in (ECONNRESET there is the client's doing).
  if (e.$metadata === undefined || (status !== undefined && status < 500 && status !== 429)) return null;
  const reason = `${e.name ?? 'Error'}${status ? ` (HTTP ${status})` : ''}${typeof e.code === 'string' ? ` ${e.code}` : ''}`;
  return new RegistryError('UNSUPPORTED', `the registry storage is unavailable (${reason}); try again later`, {
    status: 503,
    headers: { 'Retry-After': '5' },
    detail: { reason, message: String(e.message ?? '').slice(0, 200) },
  });
}
