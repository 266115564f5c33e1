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
