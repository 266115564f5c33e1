import { setTimeout as sleep } from 'node:timers/promises';
import type { Event } from '../event.ts';
import { DeliveryError, EndpointGoneError, GaveUpError } from './delivery-error.ts';
import type { Sink } from './sink.ts';

export interface RetryPolicy {
  /** Attempts made quickly (a short fixed pause) before backing off, as Distribution's threshold. */
  threshold: number;
  /** First back-off delay, doubled with each further failure. */
  backoffMs: number;
  maxBackoffMs: number;
  /** 0: no limit. */
  maxAttempts: number;
  /** 0: no limit. Measured from the oldest event's timestamp. */
  maxAgeMs: number;
}

/** A short pause between the quick attempts, so a flapping endpoint is not hammered in a tight loop. */
const QUICK_RETRY_MS = 25;
/** The longest `Retry-After` honoured. */
const MAX_RETRY_AFTER_MS = 3_600_000;

export interface RetryHooks {
  /** Attempts already made on these events (persisted, so it survives a restart). */
  priorAttempts(events: Event[]): number;
  /** Told of each failed attempt, before the pause. */
  failed(events: Event[], error: DeliveryError, attempt: number): void;
}

/**
 * Retries the inner sink until it succeeds, with exponential back-off and jitter after
 * `threshold` quick attempts, honouring `Retry-After`. Gives up (GaveUpError) only at
 * `maxAttempts` or `maxAge`; a 410 Gone ends it at once (EndpointGoneError).
 */
export class RetryingSink implements Sink {
  constructor(
    private readonly endpoint: string,
    private readonly inner: Sink,
    private readonly policy: RetryPolicy,
    private readonly hooks: RetryHooks,
    /**
     * Ends the retries: the registry shuts down, or (a shared outbox) this replica lost the
     * endpoint's lease, so another one delivers now and a retry from here would repeat it. Read
     * at each write: a new lease is a new signal.
     */
    private readonly stop: () => AbortSignal,
    private readonly random: () => number = Math.random,
  ) {}

  async write(events: Event[]): Promise<void> {
    const signal = this.stop();
    let attempt = this.hooks.priorAttempts(events);
    for (;;) {
      signal.throwIfAborted();
      try {
        await this.inner.write(events);
        return;
      } catch (err) {
        if (!(err instanceof DeliveryError)) throw err;
        // Cut short by shutdown: not the endpoint's failure, and the events stay queued.
        signal.throwIfAborted();
        attempt++;
        this.hooks.failed(events, err, attempt);
        if (err.status === 410) throw new EndpointGoneError(this.endpoint);
        const reason = this.giveUpReason(events, attempt);
        if (reason) throw new GaveUpError(`${reason}; last error: ${err.message}`, err.status);
        await sleep(this.delay(attempt, err), undefined, { signal });
      }
    }
  }

  /** How long to wait after the `attempt`-th failure. */
  delay(attempt: number, err: DeliveryError): number {
    // Retry-After says "not before": it can lengthen the pause, never shorten it below ours.
    const asked = err.retryAfterMs === null ? 0 : Math.min(err.retryAfterMs, MAX_RETRY_AFTER_MS);
    return Math.max(asked, this.backoff(attempt));
  }

  private backoff(attempt: number): number {
    if (attempt < this.policy.threshold) return QUICK_RETRY_MS;
    const exponent = Math.min(attempt - this.policy.threshold, 30);
    const ceiling = Math.max(Math.min(this.policy.backoffMs * 2 ** exponent, this.policy.maxBackoffMs), QUICK_RETRY_MS);
    // "Equal jitter": at least half the ceiling, so back-off still grows, and spread over the rest.
    return ceiling / 2 + this.random() * (ceiling / 2);
  }

  private giveUpReason(events: Event[], attempt: number): string | null {
    if (this.policy.maxAttempts > 0 && attempt >= this.policy.maxAttempts) {
      return `gave up after ${attempt} attempts (maxattempts)`;
    }
    if (this.policy.maxAgeMs > 0) {
      const oldest = Math.min(...events.map((e) => Date.parse(e.timestamp)));
      if (Date.now() - oldest > this.policy.maxAgeMs) return `gave up: event older than maxage`;
    }
    return null;
  }

  close(): Promise<void> {
    return this.inner.close();
  }
}
