import { createPublicKey, type KeyObject, type X509Certificate } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import {
  calculateJwkThumbprint,
  createLocalJWKSet,
  createRemoteJWKSet,
  exportJWK,
  jwtVerify,
  type JWTHeaderParameters,
  type FlattenedJWSInput,
} from 'jose';
import { parseCertificateBundle, verifiedLeafKey } from './cert-chain.ts';
import { libtrustKeyId } from './key-id.ts';
import { VerifiedTokenCache } from './token-cache.ts';
import type { Scope } from './scope.ts';

/** Distribution's leeway for `exp` and `nbf`. */
export const CLOCK_SKEW_SECONDS = 60;

export interface TokenVerifierOptions {
  issuer: string;
  /** The registry's service name: the required audience. */
  service: string;
  algorithms: readonly string[];
  /** Path of a PEM bundle of root certificates (`rootcertbundle`). */
  rootCertBundle?: string;
  /** A JWKS file path, or an https:// URL. */
  jwks?: string;
  /** Keys trusted by `kid` besides those (the token service's own). */
  keys?: readonly { kid: string; key: KeyObject }[];
}

export interface VerifiedToken {
  subject: string;
  access: Scope[];
}

export class InvalidTokenError extends Error {
  override name = 'InvalidTokenError';
}

type KeySet = (header: JWTHeaderParameters, token: FlattenedJWSInput) => Promise<unknown>;

/**
 * Checks a Bearer token as Distribution does, with jose: issuer, audience, `exp` (required) and
 * `nbf` with a minute of leeway, an asymmetric algorithm from the allow-list, and a signing key
 * that is trusted: an `x5c` chain to a root certificate, a `kid` naming a root certificate's key
 * (libtrust id or JWK thumbprint) or a key of the JWKS. A key carried in the token itself (`jwk`)
 * is never used: the token is refused.
 */
export class TokenVerifier {
  private readonly verified = new VerifiedTokenCache();

  private constructor(
    private readonly options: TokenVerifierOptions,
    private readonly roots: X509Certificate[],
    private readonly byKid: Map<string, KeyObject>,
    private readonly jwks: KeySet | null,
  ) {}

  static async create(options: TokenVerifierOptions): Promise<TokenVerifier> {
    const roots = options.rootCertBundle ? parseCertificateBundle(await readFile(options.rootCertBundle, 'utf8')) : [];
    if (options.rootCertBundle && roots.length === 0) throw new Error(`${options.rootCertBundle} holds no PEM certificate`);
    const byKid = new Map<string, KeyObject>();
    for (const root of roots) {
      byKid.set(libtrustKeyId(root.publicKey), root.publicKey);
      byKid.set(await calculateJwkThumbprint(await exportJWK(root.publicKey)), root.publicKey);
    }
    for (const { kid, key } of options.keys ?? []) byKid.set(kid, key.type === 'public' ? key : createPublicKey(key));
    let jwks: KeySet | null = null;
    if (options.jwks?.startsWith('https://')) {
      // A kid it has not seen makes it fetch again (a key rotation), at most once every few seconds.
      jwks = createRemoteJWKSet(new URL(options.jwks), { cooldownDuration: 5_000, cacheMaxAge: 10 * 60_000, timeoutDuration: 5_000 }) as KeySet;
    } else if (options.jwks) {
      jwks = createLocalJWKSet(JSON.parse(await readFile(options.jwks, 'utf8'))) as KeySet;
    }
    return new TokenVerifier(options, roots, byKid, jwks);
  }

  async verify(token: string): Promise<VerifiedToken> {
    const known = this.verified.get(token);
    if (known) return known;
    try {
      const { payload } = await jwtVerify(token, (header, input) => this.signingKey(header, input), {
        issuer: this.options.issuer,
        audience: this.options.service,
        algorithms: [...this.options.algorithms],
        clockTolerance: CLOCK_SKEW_SECONDS,
        requiredClaims: ['exp'],
      });
      const verified = { subject: typeof payload.sub === 'string' ? payload.sub : '', access: accessClaim(payload.access) };
      // jose refuses a token past exp + the leeway; from then on, so does the cache.
      if (typeof payload.exp === 'number') this.verified.set(token, verified, (payload.exp + CLOCK_SKEW_SECONDS) * 1000);
      return verified;
    } catch (err) {
      throw new InvalidTokenError(err instanceof Error ? err.message : String(err));
    }
  }

  private async signingKey(header: JWTHeaderParameters, input: FlattenedJWSInput): Promise<KeyObject | CryptoKey | Uint8Array> {
    if (header.jwk !== undefined) throw new Error('a token that carries its own key (jwk header) is not trusted');
    if (header.x5c !== undefined) {
      if (this.roots.length === 0) throw new Error('x5c given but no rootcertbundle is configured');
      return verifiedLeafKey(header.x5c, this.roots);
    }
    const known = header.kid !== undefined ? this.byKid.get(header.kid) : undefined;
    if (known) return known;
    if (this.jwks) return (await this.jwks(header, input)) as KeyObject | CryptoKey;
    throw new Error(header.kid === undefined ? 'the token names no key (no kid, no x5c)' : `unknown signing key ${header.kid}`);
  }
}

/** The `access` claim, keeping only well-formed entries. */
function accessClaim(value: unknown): Scope[] {
  if (!Array.isArray(value)) return [];
  return value.flatMap((entry: unknown) => {
    const e = entry as { type?: unknown; name?: unknown; actions?: unknown } | null;
    if (!e || typeof e.type !== 'string' || typeof e.name !== 'string' || !Array.isArray(e.actions)) return [];
    return [{ type: e.type, name: e.name, actions: e.actions.filter((a): a is string => typeof a === 'string') }];
  });
}
