/** Who sent a request, and what they may do; decided once per request by the access control. */
export interface Identity {
  /** The subject (a token's `sub`, the Basic user); undefined when anonymous. */
  readonly name: string | undefined;
  /** True when credentials were checked and named someone (an anonymous token does not). */
  readonly authenticated: boolean;
  /** True when every action on every repository is allowed (auth off; htpasswd without rules). */
  readonly unrestricted: boolean;
  may(type: string, name: string, action: string): boolean;
}

/** Auth off: anyone may do anything. */
export const OPEN_IDENTITY: Identity = { name: undefined, authenticated: false, unrestricted: true, may: () => true };

/** Whether `identity` holds every action of every scope. */
export function mayAll(identity: Identity, scopes: readonly { type: string; name: string; actions: readonly string[] }[]): boolean {
  return scopes.every((s) => s.actions.every((action) => identity.may(s.type, s.name, action)));
}
