import { RegistryError } from '../oci/errors.ts';
import type { HtpasswdFile } from './htpasswd.ts';
import type { LoginThrottle } from './login-throttle.ts';

/** Credentials from an `Authorization: Basic` header; null when the header is not Basic. */
export function basicCredentials(authorization: string | undefined): { user: string; password: string } | null {
  const m = /^Basic\s+([A-Za-z0-9+/=]+)\s*$/i.exec(authorization ?? '');
  if (!m) return null;
  const text = Buffer.from(m[1]!, 'base64').toString('utf8');
  const colon = text.indexOf(':');
  if (colon < 0) return null;
  return { user: text.slice(0, colon), password: text.slice(colon + 1) };
}

/** Password checks against the htpasswd file, with failed attempts rate-limited. */
export class PasswordCheck {
  constructor(
    private readonly users: HtpasswdFile,
    private readonly throttle: LoginThrottle,
  ) {}

  /** Whether the password is right; throws 429 TOOMANYREQUESTS while the account or address is throttled. */
  async verify(user: string, password: string, clientAddr: string): Promise<boolean> {
    this.refuseIfThrottled(user, clientAddr);
    if (await this.users.verify(user, password)) {
      this.throttle.succeeded(user);
      return true;
    }
    this.throttle.failed(user, clientAddr);
    return false;
  }

  /** Whether `user` is (still) in the file. */
  has(user: string): Promise<boolean> {
    return this.users.has(user);
  }

  /** A failure that names no account (a bad refresh token): counted against the address. */
  failed(clientAddr: string): void {
    this.throttle.failed(null, clientAddr);
  }

  refuseIfThrottled(user: string | null, clientAddr: string): void {
    const wait = this.throttle.retryAfter(user, clientAddr);
    if (wait > 0) {
      throw new RegistryError('TOOMANYREQUESTS', 'too many failed logins: try again later', {
        headers: { 'Retry-After': String(wait) },
        detail: { retryAfterSeconds: wait },
      });
    }
  }
}
