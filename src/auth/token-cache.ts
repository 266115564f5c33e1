import type { VerifiedToken } from './token-verifier.ts';

/**
 * Tokens already verified, until they expire: a client sends the same token with every request of
 * a push or pull for minutes, and checking its signature (and an `x5c` chain to the roots) each
 * time costs more than serving a manifest. What a verification found depends only on the token,
 * the configured keys and the clock, so a hit checks the clock again and nothing else. Bounded
 * (the oldest go first); a token is kept by its text, which is what was signed.
 */
export class VerifiedTokenCache {
  private readonly tokens = new Map<string, { verified: VerifiedToken; expiresAtMs: number }>();

  constructor(private readonly maxEntries = 1_000) {}

  get(token: string, nowMs = Date.now()): VerifiedToken | undefined {
    const hit = this.tokens.get(token);
    if (!hit) return undefined;
    if (nowMs >= hit.expiresAtMs) {
      this.tokens.delete(token);
      return undefined;
    }
    return hit.verified;
  }

  /** `expiresAtMs`: past it the token is refused (its `exp` plus the allowed skew). */
  set(token: string, verified: VerifiedToken, expiresAtMs: number): void {
    if (this.tokens.size >= this.maxEntries) {
      const oldest = this.tokens.keys().next().value;
      if (oldest !== undefined) this.tokens.delete(oldest);
    }
    this.tokens.set(token, { verified, expiresAtMs });
  }
}
