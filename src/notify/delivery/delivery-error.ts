/** One delivery attempt that did not end in a 2xx. */
export class DeliveryError extends Error {
  constructor(
    message: string,
    /** The HTTP status, or null when no response came (timeout, reset, refused). */
    readonly status: number | null,
    /** What a 429/503 `Retry-After` asked for, in ms. */
    readonly retryAfterMs: number | null = null,
  ) {
    super(message);
    this.name = 'DeliveryError';
  }
}

/** The endpoint answered 410 Gone: stop sending until it is enabled again. */
export class EndpointGoneError extends Error {
  constructor(readonly endpoint: string) {
    super(`endpoint ${endpoint} answered 410 Gone`);
    this.name = 'EndpointGoneError';
  }
}

/** The retry policy gave up on these events: they go to the dead-letter list. */
export class GaveUpError extends Error {
  constructor(
    readonly reason: string,
    readonly lastStatus: number | null,
  ) {
    super(reason);
    this.name = 'GaveUpError';
  }
}

/** Parses `Retry-After` (seconds or an HTTP date) into ms from now. */
export function parseRetryAfter(value: string | undefined, now = Date.now()): number | null {
  if (!value) return null;
  if (/^\d+$/.test(value.trim())) return Number(value.trim()) * 1000;
  const at = Date.parse(value);
  return Number.isNaN(at) ? null : Math.max(at - now, 0);
}
