import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import * as path from 'node:path';
import type { Event } from '../../src/notify/event.ts';
import { Client } from '../helpers/client.ts';
import type { WebhookReceiver } from '../helpers/receiver.ts';
import { descriptor, imageBlobs, writeLayout, type Blob, type Image } from '../e2e/skopeo-fixtures.ts';
import type { AccessClaim, TestIssuer } from './issuer.ts';

/** Pieces shared by the authentication tests that drive skopeo or plain fetch against a registry with auth on. */

export function basic(user: string, password: string): string {
  return `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;
}

/** A Client whose every request carries `authorization` (unless the request sets its own). */
export class AuthClient extends Client {
  constructor(base: string, readonly authorization: string) {
    super(base);
  }

  override fetch(p: string, init: RequestInit = {}): Promise<Response> {
    const headers = new Headers(init.headers);
    if (!headers.has('authorization')) headers.set('authorization', this.authorization);
    return super.fetch(p, { ...init, headers });
  }
}

/** A token from the registry's own token service (GET /auth/token with Basic credentials). */
export async function serviceToken(registryUrl: string, service: string, user: string, password: string, scopes: string[]): Promise<string> {
  const query = new URLSearchParams({ service });
  for (const s of scopes) query.append('scope', s);
  const res = await fetch(new URL(`/auth/token?${query}`, registryUrl), { headers: { authorization: basic(user, password) } });
  const text = await res.text();
  assert.equal(res.status, 200, `GET /auth/token as ${user}: ${text.slice(0, 300)}`);
  const body = JSON.parse(text) as { token?: string };
  assert.equal(typeof body.token, 'string', `no token in ${text.slice(0, 300)}`);
  return body.token!;
}

/** Writes `image` as an OCI layout tagged `latest` in `dir`; returns skopeo's `oci:` reference to it. */
export async function layoutOf(dir: string, image: Image): Promise<string> {
  await writeLayout(dir, imageBlobs(image), descriptor(image.mediaType, image.manifest), 'latest');
  return `oci:${dir}:latest`;
}

/** A place for one more fixture directory under `work`. */
export function under(work: string, name: string): string {
  return path.join(work, `${name}-${randomUUID().slice(0, 8)}`);
}

/** `actual` (digest → bytes, as readLayout gives) holds exactly the image's blobs, each byte for byte. */
export function assertSameBlobs(actual: Map<string, Buffer>, image: Image): void {
  const expected: Blob[] = imageBlobs(image);
  assert.deepEqual([...actual.keys()].sort(), expected.map((b) => b.digest).sort());
  for (const b of expected) assert.ok(actual.get(b.digest)?.equals(b.data), `blob ${b.digest} differs after the round trip`);
}

/** Neither the manifest (by `tag` and by digest) nor any blob of `image` is in `name`, as `client` sees it. */
export async function assertNothingStored(client: Client, name: string, tag: string, image: Image): Promise<void> {
  for (const reference of [tag, image.manifest.digest]) {
    const res = await client.fetch(`/v2/${name}/manifests/${reference}`, { headers: { accept: image.mediaType } });
    const text = await res.text();
    assert.equal(res.status, 404, `GET manifest ${name}:${reference} after a refused push: ${text.slice(0, 300)}`);
  }
  for (const b of [image.config, ...image.layers]) {
    const res = await client.fetch(`/v2/${name}/blobs/${b.digest}`, { method: 'HEAD' });
    assert.equal(res.status, 404, `HEAD blob ${b.digest} in ${name} after a refused push`);
  }
}

/**
 * Pulls `name:reference` through `client` with a User-Agent of its own and waits until the
 * receiver has that pull's event: events are delivered in order, so every event of anything
 * done before has arrived by then. Returns all events received so far.
 */
export async function awaitMarker(client: Client, receiver: WebhookReceiver, name: string, reference: string, mediaType: string): Promise<Event[]> {
  const useragent = `dockyard-marker/${randomUUID()}`;
  const res = await client.fetch(`/v2/${name}/manifests/${reference}`, { headers: { accept: mediaType, 'user-agent': useragent } });
  const text = await res.text();
  assert.equal(res.status, 200, `marker pull of ${name}:${reference}: ${text.slice(0, 300)}`);
  await receiver.until(() => receiver.events().some((e) => e.request.useragent === useragent), 15_000, () => `no event for the marker pull of ${name}:${reference}`);
  return receiver.events();
}

/** Events that mention any of `image`'s digests or `name:tag`. */
export function eventsAbout(events: Event[], name: string, tag: string, image: Image): Event[] {
  const digests = new Set(imageBlobs(image).map((b) => b.digest));
  return events.filter((e) => (e.target.digest !== undefined && digests.has(e.target.digest)) || (e.target.repository === name && e.target.tag === tag));
}

/** Waits until the receiver has the push event of `name:tag` (the manifest push, which comes last). */
export async function awaitManifestPush(receiver: WebhookReceiver, name: string, tag: string, image: Image): Promise<Event[]> {
  const isIt = (e: Event) => e.action === 'push' && e.target.repository === name && e.target.tag === tag && e.target.digest === image.manifest.digest;
  await receiver.until(() => receiver.events().some(isIt), 15_000, () => `no push event for ${name}:${tag}`);
  return receiver.events();
}

// --- an external Docker token server ------------------------------------------------------------

/** One resource scope as the Docker token spec writes it: `type[(class)]:name:action,action`. */
export interface Scope {
  type: string;
  name: string;
  actions: string[];
}

/**
 * The `scope` query parameters of a token request: each may hold several space-separated scopes,
 * and the parameter may repeat. The name may itself hold `:` (a registry host with a port), so the
 * type ends at the first colon and the actions start after the last.
 */
export function parseScopes(params: string[]): Scope[] {
  const scopes: Scope[] = [];
  for (const s of params.flatMap((p) => p.split(' ')).filter(Boolean)) {
    const first = s.indexOf(':');
    const last = s.lastIndexOf(':');
    if (first <= 0 || last === first) continue;
    scopes.push({ type: s.slice(0, first).replace(/\(.*\)$/, ''), name: s.slice(first + 1, last), actions: s.slice(last + 1).split(',').filter(Boolean) });
  }
  return scopes;
}

/** One request the token server answered. */
export interface TokenRequest {
  user?: string;
  service: string | null;
  scopes: Scope[];
  status: number;
}

export interface TokenServer {
  readonly realm: string;
  readonly requests: TokenRequest[];
  close(): Promise<void>;
}

/**
 * A tiny token server on loopback: `GET /token?service=&scope=` with Basic credentials checked
 * against `users`; grants each asked scope the actions `allowed(user, scope)` returns (asked ∩
 * allowed; a scope left with nothing is left out), signed by `issuer`.
 */
export async function startTokenServer(issuer: TestIssuer, users: Record<string, string>, allowed: (user: string, scope: Scope) => string[]): Promise<TokenServer> {
  const requests: TokenRequest[] = [];
  const server: Server = createServer((req, res) => {
    const reply = (status: number, body: unknown, headers: Record<string, string> = {}) => {
      res.writeHead(status, { 'content-type': 'application/json', ...headers });
      res.end(JSON.stringify(body));
    };
    void (async () => {
      const url = new URL(req.url ?? '/', 'http://127.0.0.1');
      const service = url.searchParams.get('service');
      const scopes = parseScopes(url.searchParams.getAll('scope'));
      const seen: TokenRequest = { service, scopes, status: 0 };
      requests.push(seen);
      const auth = /^Basic (.+)$/i.exec(req.headers.authorization ?? '');
      const [user, ...rest] = auth ? Buffer.from(auth[1]!, 'base64').toString('utf8').split(':') : [];
      seen.user = user;
      if (req.method !== 'GET' || url.pathname !== '/token' || service !== issuer.service) {
        seen.status = 400;
        return reply(400, { errors: [{ code: 'UNSUPPORTED', message: 'unsupported token request' }] });
      }
      if (user === undefined || users[user] === undefined || users[user] !== rest.join(':')) {
        seen.status = 401;
        return reply(401, { errors: [{ code: 'UNAUTHORIZED', message: 'authentication required' }] }, { 'www-authenticate': 'Basic realm="test-token-server"' });
      }
      const access: AccessClaim[] = [];
      for (const scope of scopes) {
        const granted = allowed(user, scope);
        const actions = scope.actions.filter((a) => granted.includes(a));
        if (actions.length > 0) access.push({ type: scope.type, name: scope.name, actions });
      }
      const token = await issuer.sign(access, { claims: { sub: user } });
      seen.status = 200;
      reply(200, { token, access_token: token, expires_in: 300, issued_at: new Date().toISOString() });
    })().catch((err: unknown) => reply(500, { errors: [{ code: 'UNKNOWN', message: String(err) }] }));
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  return {
    realm: `http://127.0.0.1:${port}/token`,
    requests,
    async close() {
      const closed = once(server, 'close');
      server.close();
      server.closeAllConnections();
      await closed;
    },
  };
}
