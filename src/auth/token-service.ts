import { randomUUID } from 'node:crypto';
import { exportJWK, jwtVerify, SignJWT } from 'jose';
import { RegistryError } from '../oci/errors.ts';
import type { AccessRules } from './access-rules.ts';
import type { PasswordCheck } from './password-check.ts';
import { formatScope, parseScope, type Scope } from './scope.ts';
import type { SigningKey } from './signing-key.ts';

export interface TokenServiceOptions {
  issuer: string;
  service: string;
  expirationMs: number;
  refreshExpirationMs: number;
  key: SigningKey;
  passwords: PasswordCheck;
  rules: AccessRules;
}

/** How the caller proves who they are. */
export type TokenGrant =
  | { kind: 'anonymous' }
  | { kind: 'password'; user: string; password: string }
  | { kind: 'refresh'; refreshToken: string };

export interface TokenRequest {
  grant: TokenGrant;
  /** The `service` asked for; must be ours when given. */
  service: string | undefined;
  /** Scope strings as sent (each may hold several, space-separated). */
  scopes: readonly string[];
  /** `offline_token=true` / `access_type=offline`: also issue a refresh token. */
  offline: boolean;
  clientAddr: string;
}

export interface IssuedToken {
  token: string;
  access_token: string;
  expires_in: number;
  issued_at: string;
  scope: string;
  refresh_token?: string;
}

export const TOKEN_SERVICE_REALM = 'Dockyard token service';

/**
 * The registry's own token service (`auth.tokenservice`): checks Basic or password-grant
 * credentials against the htpasswd file (failures rate-limited), or a refresh token it issued,
 * and signs an access token granting the part of the asked scopes the access rules allow.
 */
export class TokenService {
  /** Refresh tokens are for this endpoint only: their audience is not the registry's service. */
  private readonly refreshAudience: string;

  constructor(private readonly options: TokenServiceOptions) {
    this.refreshAudience = `${options.service}#refresh`;
  }

  /** The key the registry verifies these tokens with. */
  get verificationKey(): { kid: string; key: SigningKey['publicKey'] } {
    return { kid: this.options.key.kid, key: this.options.key.publicKey };
  }

  async jwks(): Promise<{ keys: Record<string, unknown>[] }> {
    const { key } = this.options;
    return { keys: [{ ...(await exportJWK(key.publicKey)), kid: key.kid, alg: key.alg, use: 'sig' }] };
  }

  async issue(request: TokenRequest): Promise<IssuedToken> {
    if (request.service !== undefined && request.service !== this.options.service) {
      throw new RegistryError('UNSUPPORTED', `this token service issues tokens for "${this.options.service}" only`, {
        status: 400,
        detail: { service: request.service.slice(0, 200) },
      });
    }
    const account = await this.authenticate(request.grant, request.clientAddr);
    const requested = request.scopes.flatMap((s) => s.split(/\s+/)).filter(Boolean).map(parseScope).filter((s): s is Scope => s !== null);
    const access = this.options.rules.grant(account, requested);
    const now = Math.floor(Date.now() / 1000);
    const expiresIn = Math.max(1, Math.floor(this.options.expirationMs / 1000));
    const token = await this.sign({ sub: account ?? '', aud: this.options.service, access }, now, expiresIn);
    const issued: IssuedToken = {
      token,
      access_token: token,
      expires_in: expiresIn,
      issued_at: new Date(now * 1000).toISOString(),
      scope: access.map(formatScope).join(' '),
    };
    if (request.offline && account !== null && request.grant.kind === 'password') {
      const refreshIn = Math.floor(this.options.refreshExpirationMs / 1000);
      issued.refresh_token = await this.sign({ sub: account, aud: this.refreshAudience }, now, refreshIn);
    }
    return issued;
  }

  /** The account the grant proves (null: anonymous); throws 401 or 429. */
  private async authenticate(grant: TokenGrant, clientAddr: string): Promise<string | null> {
    const { passwords } = this.options;
    if (grant.kind === 'anonymous') return null;
    let account: string | null;
    if (grant.kind === 'password') {
      account = (await passwords.verify(grant.user, grant.password, clientAddr)) ? grant.user : null;
    } else {
      passwords.refuseIfThrottled(null, clientAddr);
      account = await this.refreshAccount(grant.refreshToken);
      if (account === null) passwords.failed(clientAddr);
    }
    if (account === null) {
      throw new RegistryError('UNAUTHORIZED', grant.kind === 'password' ? 'wrong user name or password' : 'the refresh token is not valid', {
        headers: { 'WWW-Authenticate': `Basic realm="${TOKEN_SERVICE_REALM}"` },
      });
    }
    return account;
  }

  /** The account of a refresh token we issued, while that account still exists. */
  private async refreshAccount(refreshToken: string): Promise<string | null> {
    const { key, issuer, passwords } = this.options;
    try {
      const { payload } = await jwtVerify(refreshToken, key.publicKey, { issuer, audience: this.refreshAudience, algorithms: [key.alg] });
      return typeof payload.sub === 'string' && payload.sub && (await passwords.has(payload.sub)) ? payload.sub : null;
    } catch {
      return null;
    }
  }

  private sign(claims: { sub: string; aud: string; access?: Scope[] }, now: number, lifetime: number): Promise<string> {
    const { key, issuer } = this.options;
    return new SignJWT({ ...claims, iss: issuer, iat: now, nbf: now, exp: now + lifetime, jti: randomUUID() })
      .setProtectedHeader({ alg: key.alg, typ: 'JWT', kid: key.kid })
      .sign(key.privateKey);
  }
}
