import { isIP } from 'node:net';
import { z } from 'zod';
import { bool, positiveDuration } from './types.ts';

/** The JWS algorithms a token may be signed with: asymmetric only (never `none`, never HMAC). */
export const TOKEN_ALGORITHMS = ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512', 'EdDSA'] as const;

const MINUTE = 60_000;

/** Dockyard's access rule: who (`account`, `*` any authenticated user, `anonymous`) may do what where. */
const accessRuleSchema = z.strictObject({
  account: z.string().min(1),
  repositories: z.array(z.string().min(1)).min(1),
  actions: z.array(z.enum(['pull', 'push', 'delete', '*'])).min(1),
});

const accountList = z.array(z.string().min(1)).default([]);

/** Distribution's `auth.htpasswd` (realm, path), plus Dockyard's admins and access rules. */
const htpasswdSchema = z.strictObject({
  realm: z.string().min(1),
  path: z.string().min(1),
  admins: accountList,
  /** Absent: every authenticated user may do everything, as in Distribution. */
  access: z.array(accessRuleSchema).optional(),
});

/** Distribution's `auth.token` (2.x keys, and 3.x's jwks, autoredirect and signingalgorithms). */
const tokenSchema = z.strictObject({
  realm: z.url({ protocol: /^https?$/, message: 'realm must be an absolute http:// or https:// URL (the token endpoint)' }),
  service: z.string().min(1),
  issuer: z.string().min(1),
  rootcertbundle: z.string().min(1).optional(),
  /** A JWKS file, or an https:// URL (fetched, cached, refetched on an unknown kid). */
  jwks: z.string().min(1).optional(),
  autoredirect: bool.default(false),
  autoredirectpath: z.string().startsWith('/').default('/auth/token'),
  signingalgorithms: z.array(z.enum(TOKEN_ALGORITHMS)).min(1).optional(),
});

/** Dockyard's built-in token service at /auth/token. */
const tokenServiceSchema = z.strictObject({
  htpasswd: z.string().min(1),
  /** PEM private key; default `<storage root>/_auth/token-key.pem`, generated when absent. */
  key: z.string().min(1).optional(),
  expiration: positiveDuration.default(5 * MINUTE),
  /** Lifetime of refresh tokens (`offline_token`, `access_type=offline`). */
  refreshexpiration: positiveDuration.default(30 * 24 * 60 * MINUTE),
  admins: accountList,
  access: z.array(accessRuleSchema).default([]),
});

export const authSchema = z
  .strictObject({
    htpasswd: htpasswdSchema.optional(),
    token: tokenSchema.optional(),
    tokenservice: tokenServiceSchema.optional(),
  })
  .superRefine((auth, ctx) => {
    if (auth.htpasswd && auth.token) {
      ctx.addIssue({ code: 'custom', path: ['token'], message: 'auth.htpasswd and auth.token cannot both be set: choose Basic (htpasswd) or token authentication' });
    }
    if (auth.tokenservice && !auth.token) {
      ctx.addIssue({ code: 'custom', path: ['tokenservice'], message: 'the token service issues tokens for auth.token: set auth.token (realm, service, issuer) too' });
    }
    if (auth.token && !auth.token.rootcertbundle && !auth.token.jwks && !auth.tokenservice) {
      ctx.addIssue({ code: 'custom', path: ['token'], message: 'no key to verify tokens with: set rootcertbundle, jwks or auth.tokenservice' });
    }
  })
  .optional();

export type AuthConfig = NonNullable<z.infer<typeof authSchema>>;
export type AccessRuleConfig = z.infer<typeof accessRuleSchema>;
export type TokenAuthConfig = z.infer<typeof tokenSchema>;
export type TokenServiceConfig = z.infer<typeof tokenServiceSchema>;
export type HtpasswdConfig = z.infer<typeof htpasswdSchema>;

/** `http.trustedproxies`: addresses or CIDRs whose X-Forwarded-For is believed. */
export const cidrList = z.array(
  z.string().refine((text) => parseCidr(text) !== null, { message: 'expected an IP address or a CIDR such as 10.0.0.0/8' }),
);

export function parseCidr(text: string): { address: string; prefix: number; family: 'ipv4' | 'ipv6' } | null {
  const [address = '', prefixText] = text.trim().split('/');
  const version = isIP(address);
  if (version === 0) return null;
  const family = version === 4 ? 'ipv4' : 'ipv6';
  const max = family === 'ipv4' ? 32 : 128;
  const prefix = prefixText === undefined ? max : /^\d{1,3}$/.test(prefixText) ? Number(prefixText) : NaN;
  if (!(prefix >= 0 && prefix <= max)) return null;
  return { address, prefix, family };
}
