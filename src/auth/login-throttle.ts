/** Limits on failed logins: per account, and per client address (one address may try many accounts). */
export interface ThrottleLimits {
  perAccount: number;
  perAddress: number;
  windowMs: number;
}

export const DEFAULT_THROTTLE: ThrottleLimits = { perAccount: 5, perAddress: 20, windowMs: 60_000 };

/** Bound on the keys remembered, so a flood of made-up account names cannot grow memory without end. */
const MAX_KEYS = 10_000;

/**
 * Counts failed logins in a fixed window per key. Once a key has used up its failures, every
 * attempt under it (a right password too, or guessing would go on) is refused until the window
 * that began with its first failure has passed.
 */
export class LoginThrottle {
  private readonly failures = new Map<string, { count: number; resetAt: number }>();

  constructor(
    private readonly limits: ThrottleLimits = DEFAULT_THROTTLE,
    private readonly now: () => number = Date.now,
  ) {}

  /** Seconds to wait before trying again, or 0 when an attempt may be made now. */
  retryAfter(account: string | null, address: string): number {
    const now = this.now();
    let wait = 0;
    for (const [key, limit] of this.keys(account, address)) {
      const entry = this.failures.get(key);
      if (entry && entry.resetAt > now && entry.count >= limit) wait = Math.max(wait, Math.ceil((entry.resetAt - now) / 1000));
    }
    return wait;
  }

  failed(account: string | null, address: string): void {
    const now = this.now();
    if (this.failures.size >= MAX_KEYS) this.prune(now);
    for (const [key] of this.keys(account, address)) {
      const entry = this.failures.get(key);
      if (!entry || entry.resetAt <= now) this.failures.set(key, { count: 1, resetAt: now + this.limits.windowMs });
      else entry.count++;
    }
  }

  succeeded(account: string): void {
    this.failures.delete(`account:${account}`);
  }

  private keys(account: string | null, address: string): [string, number][] {
    const keys: [string, number][] = [[`address:${address}`, this.limits.perAddress]];
    if (account !== null) keys.push([`account:${account}`, this.limits.perAccount]);
    return keys;
  }

  private prune(now: number): void {
    for (const [key, entry] of this.failures) if (entry.resetAt <= now) this.failures.delete(key);
    if (this.failures.size >= MAX_KEYS) this.failures.clear();
  }
}
