import { RegistryError } from '../../oci/errors.ts';

/** What a 503 asks the client to wait: a restart's back-off starts at 100 ms. */
const RETRY_AFTER_SECONDS = 1;

/**
 * A notifications thread a request needs is down, restarting or not answering in time: the
 * request fails at once with 503 and a spec error body, instead of waiting on a dead thread.
 */
export function unavailable(what: string, detail: Record<string, unknown> = {}): RegistryError {
  return new RegistryError('UNSUPPORTED', `${what}; try again shortly`, {
    status: 503,
    detail: { retryable: true, ...detail },
    headers: { 'Retry-After': String(RETRY_AFTER_SECONDS) },
  });
}

/** Rejects with `onTimeout()` unless `promise` settles within `ms`. */
export function withDeadline<T>(promise: Promise<T>, ms: number, onTimeout: () => Error): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => reject(onTimeout()), ms);
    timer.unref();
    promise.then(
      (v) => {
        clearTimeout(timer);
        resolve(v);
      },
      (e: unknown) => {
        clearTimeout(timer);
        reject(e);
      },
    );
  });
}
