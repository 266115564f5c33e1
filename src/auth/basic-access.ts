import type { AccessRules } from './access-rules.ts';
import { CheckedAccess, RejectedCredentials, type AccessRequest } from './access-control.ts';
import type { Identity } from './identity.ts';
import { basicCredentials, type PasswordCheck } from './password-check.ts';

/**
 * Distribution's `auth.htpasswd`: HTTP Basic on every request, checked against the htpasswd
 * file; what each user may do comes from the access rules (all of it when there are none).
 */
export class BasicAccess extends CheckedAccess {
  constructor(
    private readonly realm: string,
    private readonly passwords: PasswordCheck,
    private readonly rules: AccessRules,
  ) {
    super();
  }

  protected async identify(request: AccessRequest): Promise<Identity> {
    if (request.authorization === undefined) return this.rules.identity(null);
    const credentials = basicCredentials(request.authorization);
    if (credentials && (await this.passwords.verify(credentials.user, credentials.password, request.clientAddr))) {
      return this.rules.identity(credentials.user);
    }
    throw new RejectedCredentials(credentials ? 'wrong user name or password' : 'HTTP Basic credentials are required');
  }

  protected challenge(): string {
    return `Basic realm="${quote(this.realm)}"`;
  }
}

/** A value for a quoted-string parameter of a challenge. */
export function quote(value: string): string {
  return value.replace(/["\\]/g, '\\$&');
}
