import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { createLocalJWKSet, decodeJwt, jwtVerify, type JSONWebKeySet, type JWTPayload } from 'jose';
import { Client } from '../helpers/client.ts';
import { ociImage, type ImageFixture } from '../helpers/oci.ts';
import { startTestRegistry, type TestRegistry } from '../helpers/registry.ts';
import { suiteFixture } from '../helpers/suite-fixture.ts';
import { writeHtpasswd, type AccessClaim } from './issuer.ts';

/** Shared pieces of the token-service, operator-API and actor tests: users, configs, token requests. */

export const SERVICE = 'dockyard-test';
export const ISSUER = 'dockyard-test-issuer';
/** The configured realm; with autoredirect on, challenges point at the registry's own /auth/token instead. */
export const CONFIGURED_REALM = 'http://127.0.0.1/auth/token';

/** A temp directory holding an htpasswd file (alice, bob) with random passwords; `storage` is a free subfolder. */
export interface Users {
  dir: string;
  htpasswd: string;
  storage: string;
  passwords: { alice: string; bob: string };
}

export async function makeUsers(): Promise<Users> {
  const dir = await mkdtemp(path.join(tmpdir(), 'dockyard-auth-'));
  const passwords = { alice: `alice-${randomBytes(9).toString('hex')}`, bob: `bob-${randomBytes(9).toString('hex')}` };
  const htpasswd = path.join(dir, 'htpasswd');
  await writeHtpasswd(htpasswd, passwords);
  return { dir, htpasswd, storage: path.join(dir, 'storage'), passwords };
}

export async function removeUsers(users: Users | undefined): Promise<void> {
  if (users) await rm(users.dir, { recursive: true, force: true });
}

/** The `auth` tree of the token service as the brief gives it. */
export function tokenServiceAuth(htpasswd: string): Record<string, unknown> {
  return {
    token: { realm: CONFIGURED_REALM, autoredirect: true, service: SERVICE, issuer: ISSUER },
    tokenservice: {
      htpasswd,
      expiration: '5m',
      admins: ['alice'],
      access: [
        { account: 'alice', repositories: ['team/**'], actions: ['pull', 'push', 'delete'] },
        { account: 'bob', repositories: ['team/*'], actions: ['pull'] },
        { account: '*', repositories: ['shared/*'], actions: ['pull', 'push'] },
        { account: 'anonymous', repositories: ['public/*'], actions: ['pull'] },
      ],
    },
  };
}

/** The `auth` tree of htpasswd mode (no `access`: every user may do everything). */
export function htpasswdAuth(htpasswd: string): Record<string, unknown> {
  return { htpasswd: { realm: 'dockyard', path: htpasswd, admins: ['alice'] } };
}

export function basic(user: string, password: string): string {
  return `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;
}

export function bearer(token: string): string {
  return `Bearer ${token}`;
}

/** A Client whose every request carries `authorization` and `extra` headers (unless the request sets its own). */
export class AuthClient extends Client {
  constructor(
    base: string,
    readonly authorization?: string,
    readonly extra: Record<string, string> = {},
  ) {
    super(base);
  }

  override fetch(p: string, init: RequestInit = {}): Promise<Response> {
    const headers = new Headers(init.headers);
    const defaults: Record<string, string> = { ...this.extra, ...(this.authorization ? { authorization: this.authorization } : {}) };
    for (const [k, v] of Object.entries(defaults)) if (!headers.has(k)) headers.set(k, v);
    return super.fetch(p, { ...init, headers });
  }
}

/** What a 200 from /auth/token holds. */
export interface TokenResponse {
  token: string;
  access_token: string;
  expires_in: number;
  issued_at: string;
  scope?: string;
  refresh_token?: string;
}

export interface TokenRequest {
  /** [user, password] sent as Basic; none: an anonymous request. */
  login?: [string, string];
  scopes?: string[];
  service?: string;
  offline?: boolean;
}

/** GET /auth/token with the Docker token spec's query parameters. */
export function requestToken(base: string, req: TokenRequest = {}): Promise<Response> {
  const q = new URLSearchParams({ service: req.service ?? SERVICE });
  for (const s of req.scopes ?? []) q.append('scope', s);
  if (req.login) q.set('account', req.login[0]);
  if (req.offline) q.set('offline_token', 'true');
  q.set('client_id', 'dockyard-tests');
  const headers: Record<string, string> = req.login ? { authorization: basic(...req.login) } : {};
  return fetch(new URL(`/auth/token?${q}`, base), { headers });
}

/** requestToken that must answer 200 with a token body. */
export async function getToken(base: string, req: TokenRequest = {}): Promise<TokenResponse> {
  return tokenBody(await requestToken(base, req), `GET /auth/token as ${req.login?.[0] ?? 'anonymous'}`);
}

/** POST /auth/token with a form body (OAuth2 grants). */
export function postToken(base: string, form: Record<string, string>): Promise<Response> {
  return fetch(new URL('/auth/token', base), {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams(form).toString(),
  });
}

/** Checks a 200 token answer and returns its body. */
export async function tokenBody(res: Response, where: string): Promise<TokenResponse> {
  const text = await res.text();
  assert.equal(res.status, 200, `${where}: ${text.slice(0, 300)}`);
  assert.match(res.headers.get('content-type') ?? '', /^application\/json/, `${where}: content-type`);
  const body = JSON.parse(text) as TokenResponse;
  assert.equal(typeof body.token, 'string', `${where}: token`);
  assert.equal(body.access_token, body.token, `${where}: access_token is the token`);
  return body;
}

/** The token's `access` claim. */
export function accessOf(token: string): AccessClaim[] {
  const access = decodeJwt(token).access;
  if (access === undefined) return [];
  assert.ok(Array.isArray(access), `access claim is not an array: ${JSON.stringify(access)}`);
  return access as AccessClaim[];
}

/** The sorted actions the token grants on `type:name`, or undefined when it has no entry for it. */
export function grantedActions(token: string, name: string, type = 'repository'): string[] | undefined {
  const entries = accessOf(token).filter((a) => a.type === type && a.name === name);
  assert.ok(entries.length <= 1, `more than one access entry for ${type}:${name}: ${JSON.stringify(entries)}`);
  return entries[0] ? [...entries[0].actions].sort() : undefined;
}

/** Verifies `token` against the registry's JWKS (iss, aud, signature); returns its claims. */
export async function verifyWithJwks(base: string, token: string): Promise<{ payload: JWTPayload; jwks: JSONWebKeySet }> {
  const res = await fetch(new URL('/auth/jwks.json', base));
  assert.equal(res.status, 200, 'GET /auth/jwks.json');
  const jwks = (await res.json()) as JSONWebKeySet;
  assert.ok(Array.isArray(jwks.keys) && jwks.keys.length > 0, `JWKS has no keys: ${JSON.stringify(jwks)}`);
  const { payload } = await jwtVerify(token, createLocalJWKSet(jwks), { issuer: ISSUER, audience: SERVICE });
  return { payload, jwks };
}

/** Pushes images into `root` with a registry that has no auth (the only way to fill public/*), then stops it. */
export async function seedImages(root: string, refs: [name: string, tag: string][]): Promise<Map<string, ImageFixture>> {
  const plain = await startTestRegistry({ storage: { filesystem: { rootdirectory: root } } });
  const images = new Map<string, ImageFixture>();
  try {
    const client = new Client(plain.url);
    for (const [name, tag] of refs) images.set(`${name}:${tag}`, await client.pushImage(name, tag, ociImage({ layers: 1 })));
  } finally {
    await plain.stop(); // removes only its own unused temp root
  }
  return images;
}

/** A token-service registry on storage in the users' directory, with images seeded first. */
export interface TokenRegistry {
  readonly registry: TestRegistry;
  readonly users: Users;
  readonly images: Map<string, ImageFixture>;
}

export async function startTokenRegistry(opts: { seed?: [string, string][]; config?: Record<string, unknown> } = {}): Promise<TokenRegistry & { stop(): Promise<void> }> {
  const users = await makeUsers();
  try {
    const images = await seedImages(users.storage, opts.seed ?? []);
    const registry = await startTestRegistry({
      ...opts.config,
      auth: tokenServiceAuth(users.htpasswd),
      storage: { filesystem: { rootdirectory: users.storage } },
    });
    return {
      registry,
      users,
      images,
      async stop() {
        await registry.stop();
        await removeUsers(users);
      },
    };
  } catch (err) {
    await removeUsers(users);
    throw err;
  }
}

/** startTokenRegistry for the describe block this is called in (before/after hooks). */
export function useTokenRegistry(opts: Parameters<typeof startTokenRegistry>[0] = {}): TokenRegistry {
  const started = suiteFixture('the token-service registry', () => startTokenRegistry(opts), (t) => t.stop());
  return {
    get registry() {
      return started().registry;
    },
    get users() {
      return started().users;
    },
    get images() {
      return started().images;
    },
  };
}

/** The params of a `WWW-Authenticate: Bearer k="v",...` challenge. */
export function bearerChallenge(header: string | null): Record<string, string> {
  assert.ok(header, 'no WWW-Authenticate header');
  assert.match(header, /^Bearer /, `not a Bearer challenge: ${header}`);
  const params: Record<string, string> = {};
  for (const m of header.slice(7).matchAll(/(\w+)="([^"]*)"/g)) params[m[1]!] = m[2]!;
  return params;
}
