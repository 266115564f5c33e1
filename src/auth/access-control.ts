import { RegistryError } from '../oci/errors.ts';
import { mayAll, OPEN_IDENTITY, type Identity } from './identity.ts';
import { ADMIN_SCOPE, formatScope, type Scope } from './scope.ts';

/** What the access control needs to know of a request (framework-free). */
export interface AccessRequest {
  authorization: string | undefined;
  /** The client's address (after trusted proxies), for rate limits and the loopback rule. */
  clientAddr: string;
  /** The registry's base URL as the client addressed it (for `autoredirect` realms). */
  baseUrl: string;
}

/**
 * Decides who a request comes from and whether it may do what it asks: the registry's one
 * authorization seam. Auth off is `OpenAccess`, the do-nothing twin.
 */
export interface AccessControl {
  /** True when every request may do everything (auth off): routes need not ask. */
  readonly open: boolean;
  /**
   * The caller, once it holds every scope in `needs` (none: any authenticated caller).
   * Throws 401 UNAUTHORIZED with a challenge naming `needs` when nothing valid was sent,
   * 403 DENIED when a valid caller lacks a scope, 429 while failed logins are throttled.
   */
  authorize(request: AccessRequest, needs: readonly Scope[]): Promise<Identity>;
  /** The operator API's check: an admin, or (auth off) a loopback client. */
  authorizeAdmin(request: AccessRequest): Promise<Identity>;
}

/** Auth off: everyone may use the registry; the operator API answers loopback clients unless allowed remote. */
export class OpenAccess implements AccessControl {
  readonly open = true;

  constructor(private readonly allowRemoteAdmin: boolean) {}

  async authorize(): Promise<Identity> {
    return OPEN_IDENTITY;
  }

  async authorizeAdmin(request: AccessRequest): Promise<Identity> {
    if (this.allowRemoteAdmin || isLoopback(request.clientAddr)) return OPEN_IDENTITY;
    throw new RegistryError('DENIED', 'with auth off, the operator API answers loopback clients only (notifications.admin.allowremote)', {
      detail: { client: request.clientAddr },
    });
  }
}

/**
 * Shared shape of the checking modes: find the identity, then hold it against the scopes.
 * Subclasses say how credentials are read and how to challenge for them.
 */
export abstract class CheckedAccess implements AccessControl {
  readonly open = false;
  /** The identity behind the request's credentials; throws RejectedCredentials when they are bad. */
  protected abstract identify(request: AccessRequest, forAdmin: boolean): Promise<Identity>;
  /** The `WWW-Authenticate` value asking for `needs`. */
  protected abstract challenge(request: AccessRequest, needs: readonly Scope[], error?: 'invalid_token'): string;

  authorize(request: AccessRequest, needs: readonly Scope[]): Promise<Identity> {
    return this.check(request, needs, false);
  }

  authorizeAdmin(request: AccessRequest): Promise<Identity> {
    return this.check(request, [ADMIN_SCOPE], true);
  }

  private async check(request: AccessRequest, needs: readonly Scope[], forAdmin: boolean): Promise<Identity> {
    let identity: Identity;
    try {
      identity = await this.identify(request, forAdmin);
    } catch (err) {
      if (err instanceof RejectedCredentials) throw this.unauthorized(request, needs, err.error, err.message);
      throw err;
    }
    if (needs.length === 0 ? identity.authenticated : mayAll(identity, needs)) return identity;
    if (!identity.authenticated) throw this.unauthorized(request, needs);
    throw new RegistryError('DENIED', `${identity.name || 'this caller'} may not ${needs.map(formatScope).join(' ')}`, {
      detail: { access: needs },
    });
  }

  private unauthorized(request: AccessRequest, needs: readonly Scope[], error?: 'invalid_token', message = 'authentication required'): RegistryError {
    return new RegistryError('UNAUTHORIZED', message, {
      headers: { 'WWW-Authenticate': this.challenge(request, needs, error) },
      detail: needs.length > 0 ? { access: needs } : undefined,
    });
  }
}

/** Thrown by `identify` for credentials that do not check out; becomes a 401 with the challenge. */
export class RejectedCredentials extends Error {
  constructor(
    message: string,
    readonly error?: 'invalid_token',
  ) {
    super(message);
  }
}

/** Loopback: 127.0.0.0/8 and ::1 (also as IPv4-mapped IPv6). */
export function isLoopback(address: string): boolean {
  const ip = address.startsWith('::ffff:') ? address.slice(7) : address;
  return ip === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(ip);
}

/** The identity of a caller without credentials where only credentials grant anything. */
export const NOBODY: Identity = { name: undefined, authenticated: false, unrestricted: false, may: () => false };

/**
 * The identity a verified token describes: exactly its `access` claim (`*` grants every action).
 * An anonymous token (empty `sub`) is not a sign-in: lacking a scope, its holder is asked to
 * authenticate (401 with the challenge), not told no (403).
 */
export function tokenIdentity(subject: string, access: readonly Scope[]): Identity {
  return {
    name: subject || undefined,
    authenticated: subject !== '',
    unrestricted: false,
    may: (type, name, action) =>
      access.some((a) => a.type === type && a.name === name && (a.actions.includes(action) || a.actions.includes('*'))),
  };
}
