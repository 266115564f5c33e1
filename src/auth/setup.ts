import * as path from 'node:path';
import type { AuthConfig } from '../config/auth.ts';
import { TOKEN_ALGORITHMS } from '../config/auth.ts';
import { ConfigError } from '../config/load.ts';
import { OpenAccess, type AccessControl } from './access-control.ts';
import { AccessRules } from './access-rules.ts';
import { BasicAccess } from './basic-access.ts';
import { BearerAccess } from './bearer-access.ts';
import { HtpasswdFile } from './htpasswd.ts';
import { LoginThrottle } from './login-throttle.ts';
import { PasswordCheck } from './password-check.ts';
import { loadOrCreateSigningKey } from './signing-key.ts';
import { TokenService } from './token-service.ts';
import { TokenVerifier } from './token-verifier.ts';

export interface AuthSetup {
  access: AccessControl;
  /** The built-in token service, when `auth.tokenservice` is configured. */
  tokenService: TokenService | null;
}

/**
 * Builds the access control the `auth` section asks for, reading every file it names now, so a
 * missing htpasswd file or a bad certificate bundle stops the start instead of failing requests.
 */
export async function setUpAuth(auth: AuthConfig | undefined, opts: { storageRoot: string; allowRemoteAdmin: boolean }): Promise<AuthSetup> {
  if (!auth || (!auth.htpasswd && !auth.token)) return { access: new OpenAccess(opts.allowRemoteAdmin), tokenService: null };
  const throttle = new LoginThrottle();

  if (auth.htpasswd) {
    const { realm, admins, access } = auth.htpasswd;
    const users = await open('auth.htpasswd.path', () => HtpasswdFile.open(auth.htpasswd!.path));
    return { access: new BasicAccess(realm, new PasswordCheck(users, throttle), new AccessRules(access, admins)), tokenService: null };
  }

  const token = auth.token!;
  let tokenService: TokenService | null = null;
  let admins: { passwords: PasswordCheck; rules: AccessRules } | null = null;
  if (auth.tokenservice) {
    const service = auth.tokenservice;
    const users = await open('auth.tokenservice.htpasswd', () => HtpasswdFile.open(service.htpasswd));
    const keyFile = service.key ?? path.join(opts.storageRoot, '_auth', 'token-key.pem');
    const key = await open('auth.tokenservice.key', () => loadOrCreateSigningKey(keyFile));
    const passwords = new PasswordCheck(users, throttle);
    const rules = new AccessRules(service.access, service.admins);
    admins = { passwords, rules };
    tokenService = new TokenService({
      issuer: token.issuer,
      service: token.service,
      expirationMs: service.expiration,
      refreshExpirationMs: service.refreshexpiration,
      key,
      passwords,
      rules,
    });
  }
  const verifier = await open(token.rootcertbundle ? 'auth.token.rootcertbundle' : token.jwks ? 'auth.token.jwks' : 'auth.token', () =>
    TokenVerifier.create({
      issuer: token.issuer,
      service: token.service,
      algorithms: token.signingalgorithms ?? TOKEN_ALGORITHMS,
      rootCertBundle: token.rootcertbundle,
      jwks: token.jwks,
      keys: tokenService ? [tokenService.verificationKey] : [],
    }),
  );
  const access = new BearerAccess({
    realm: token.realm,
    service: token.service,
    autoRedirectPath: token.autoredirect ? token.autoredirectpath : null,
    verifier,
    admins,
  });
  return { access, tokenService };
}

/** Runs a start-up read; a failure becomes a ConfigError naming the key whose file it is. */
async function open<T>(key: string, read: () => Promise<T>): Promise<T> {
  try {
    return await read();
  } catch (err) {
    throw new ConfigError(`configuration key "${key}": ${err instanceof Error ? err.message : String(err)}`);
  }
}
