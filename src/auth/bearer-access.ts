import { CheckedAccess, NOBODY, RejectedCredentials, tokenIdentity, type AccessRequest } from './access-control.ts';
import type { AccessRules } from './access-rules.ts';
import { quote } from './basic-access.ts';
import type { Identity } from './identity.ts';
import { basicCredentials, type PasswordCheck } from './password-check.ts';
import { ADMIN_SCOPE, formatScope, type Scope } from './scope.ts';
import { TOKEN_SERVICE_REALM } from './token-service.ts';
import { InvalidTokenError, type TokenVerifier } from './token-verifier.ts';

export interface BearerAccessOptions {
  realm: string;
  service: string;
  /** Distribution's `autoredirect`: the realm is this path on the URL the client used. */
  autoRedirectPath: string | null;
  verifier: TokenVerifier;
  /** With the token service: Basic admins may use the operator API directly. */
  admins: { passwords: PasswordCheck; rules: AccessRules } | null;
}

/** Distribution's `auth.token`: a Bearer JWT on every request, its `access` claim decides. */
export class BearerAccess extends CheckedAccess {
  constructor(private readonly options: BearerAccessOptions) {
    super();
  }

  protected async identify(request: AccessRequest, forAdmin: boolean): Promise<Identity> {
    const header = request.authorization;
    if (header === undefined) return NOBODY;
    const bearer = /^Bearer\s+(\S+)\s*$/i.exec(header);
    if (bearer) {
      try {
        const token = await this.options.verifier.verify(bearer[1]!);
        return tokenIdentity(token.subject, token.access);
      } catch (err) {
        if (!(err instanceof InvalidTokenError)) throw err;
        throw new RejectedCredentials('the token is not valid', 'invalid_token');
      }
    }
    const credentials = basicCredentials(header);
    if (forAdmin && credentials && this.options.admins) {
      const { passwords, rules } = this.options.admins;
      if (await passwords.verify(credentials.user, credentials.password, request.clientAddr)) return rules.identity(credentials.user);
      throw new RejectedCredentials('wrong user name or password');
    }
    return NOBODY;
  }

  protected challenge(request: AccessRequest, needs: readonly Scope[], error?: 'invalid_token'): string {
    const { service, autoRedirectPath } = this.options;
    const realm = autoRedirectPath === null ? this.options.realm : `${request.baseUrl}${autoRedirectPath}`;
    let value = `Bearer realm="${quote(realm)}",service="${quote(service)}"`;
    if (needs.length > 0) value += `,scope="${quote(needs.map(formatScope).join(' '))}"`;
    if (error) value += `,error="${error}"`;
    // The operator API also takes an admin's Basic credentials (curl -u) when there is a token service.
    if (this.options.admins && needs.includes(ADMIN_SCOPE)) value += `, Basic realm="${quote(TOKEN_SERVICE_REALM)}"`;
    return value;
  }
}
