/**
 * Errors of the operator API (`/notifications/...`, `/ui/...`). It is not the OCI API, so it has
 * codes of its own (an OCI code such as UNSUPPORTED would mislead: `limit=abc` is not an
 * unsupported operation). Same body shape as the OCI errors, `{"errors":[{code, message,
 * detail}]}`, so one client parses both; rendered by errors.ts.
 */
export const ADMIN_ERROR_CODES = {
  /** A query parameter or body field is malformed (detail: which, and why). */
  INVALID_PARAMETER: 400,
  /** An endpoint definition fails the config's endpoint schema (detail: the zod issues). */
  INVALID_ENDPOINT: 400,
  /** No endpoint of that name (configured or created at runtime). */
  ENDPOINT_UNKNOWN: 404,
  /** The endpoint has no stored event of that id (never had it, or it was pruned). */
  EVENT_UNKNOWN: 404,
  /** An endpoint of that name exists already. */
  ENDPOINT_EXISTS: 409,
  /** A config endpoint: trusted as written, changed only by editing the config and restarting. */
  ENDPOINT_READ_ONLY: 409,
  /** The endpoint still has queued events and the request asked neither to drain nor to discard them. */
  ENDPOINT_NOT_DRAINED: 409,
  /** A runtime endpoint's target resolves to a loopback, private or link-local address (SSRF guard). */
  TARGET_FORBIDDEN: 422,
  /** An uploaded file or body is larger than allowed. */
  TOO_LARGE: 413,
  /** An uploaded image archive cannot be read (not an OCI layout nor a `docker save` tarball, or broken). */
  IMPORT_INVALID: 400,
  /** Notifications cannot take the request now (a thread restarting). */
  UNAVAILABLE: 503,
} as const;

export type AdminErrorCode = keyof typeof ADMIN_ERROR_CODES;

export class AdminError extends Error {
  readonly status: number;
  constructor(
    readonly code: AdminErrorCode,
    message: string,
    readonly detail?: unknown,
    /** Extra response headers (Retry-After on a 503). */
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
    this.name = 'AdminError';
    this.status = ADMIN_ERROR_CODES[code];
  }
}

export function isAdminError(err: unknown): err is AdminError {
  return err instanceof AdminError;
}

/**
 * The operator API's face of an error thrown below it: a notifications thread down (the shared
 * 503 of src/notify, which speaks OCI for the /v2/ API) becomes UNAVAILABLE; a malformed request
 * Express itself refused (bad percent-encoding, a body too large) becomes INVALID_PARAMETER or
 * TOO_LARGE. Auth's UNAUTHORIZED and DENIED pass as they are: they mean the same here.
 */
export function asAdminError(err: unknown): unknown {
  if (isAdminError(err) || err === null || typeof err !== 'object') return err;
  const e = err as { name?: unknown; status?: unknown; message?: unknown; detail?: unknown; headers?: Record<string, string> };
  if (typeof e.status !== 'number' || typeof e.message !== 'string') return err;
  if (e.status === 503) return new AdminError('UNAVAILABLE', e.message, e.detail, e.headers ?? {});
  if (e.name === 'RegistryError') return err;
  if (e.status === 413) return new AdminError('TOO_LARGE', 'request body is too large', { reason: e.message.slice(0, 200) });
  if (e.status >= 400 && e.status < 500) return new AdminError('INVALID_PARAMETER', e.message.slice(0, 200), { reason: e.message.slice(0, 200) });
  return err;
}
