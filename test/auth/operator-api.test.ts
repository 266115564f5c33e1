import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { expectError } from '../helpers/assertions.ts';
import { useWithReceiver } from '../notify/support.ts';
import {
  basic, bearer, getToken, grantedActions, htpasswdAuth, makeUsers, removeUsers, tokenServiceAuth, type Users,
} from './service-support.ts';

/** Who may use /notifications/...: admins when auth is on, loopback clients (after trusted-proxy resolution) when it is off. */

const ENDPOINTS = '/notifications/endpoints';
const PING = '/notifications/endpoints/hook/ping';
const ADMIN_SCOPE = 'registry:admin:*';

function call(base: string, p: string, authorization?: string, init: RequestInit = {}): Promise<Response> {
  const headers = new Headers(init.headers);
  if (authorization) headers.set('authorization', authorization);
  return fetch(new URL(p, base), { ...init, headers });
}

async function expectOk(res: Response, where: string): Promise<void> {
  const text = await res.text();
  assert.equal(res.status, 200, `${where}: ${text.slice(0, 300)}`);
}

describe('operator API with the token service', { timeout: 60_000 }, () => {
  let users: Users;
  const h = useWithReceiver(async () => {
    users = await makeUsers();
    return { config: { auth: tokenServiceAuth(users.htpasswd) } };
  });
  after(() => removeUsers(users));
  const url = () => h.registry.url;
  const alice = () => basic('alice', users.passwords.alice);
  const bob = () => basic('bob', users.passwords.bob);

  it('answers a request without credentials with 401 UNAUTHORIZED and a challenge', async () => {
    const res = await call(url(), ENDPOINTS);
    assert.match(res.headers.get('www-authenticate') ?? '', /^(Bearer|Basic) realm="[^"]+"/);
    await expectError(res, 401, 'UNAUTHORIZED');
  });

  it('serves an admin’s Basic credentials (alice) and refuses bob’s with 403 DENIED', async () => {
    await expectOk(await call(url(), ENDPOINTS, alice()), 'Basic alice');
    await expectError(await call(url(), ENDPOINTS, bob()), 403, 'DENIED', 'Basic bob');
  });

  it('serves a Bearer token with registry:admin:*, which only an admin is granted', async () => {
    const { token } = await getToken(url(), { login: ['alice', users.passwords.alice], scopes: [ADMIN_SCOPE] });
    assert.deepEqual(grantedActions(token, 'admin', 'registry'), ['*']);
    await expectOk(await call(url(), ENDPOINTS, bearer(token)), 'Bearer alice');

    const bobs = await getToken(url(), { login: ['bob', users.passwords.bob], scopes: [ADMIN_SCOPE] });
    assert.equal(grantedActions(bobs.token, 'admin', 'registry'), undefined, 'bob is no admin');
    await expectError(await call(url(), ENDPOINTS, bearer(bobs.token)), 403, 'DENIED', 'Bearer bob');
  });

  it('refuses bob a ping, with Basic or a token, and lets alice ping', async () => {
    const bobs = await getToken(url(), { login: ['bob', users.passwords.bob], scopes: [ADMIN_SCOPE] });
    await expectError(await call(url(), PING, bob(), { method: 'POST' }), 403, 'DENIED', 'ping as Basic bob');
    await expectError(await call(url(), PING, bearer(bobs.token), { method: 'POST' }), 403, 'DENIED', 'ping as Bearer bob');
    await expectError(await call(url(), PING, undefined, { method: 'POST' }), 401, 'UNAUTHORIZED', 'ping without credentials');
    assert.equal(h.receiver.requests.length, 0, 'no refused ping reached the receiver');
    await expectOk(await call(url(), PING, alice(), { method: 'POST' }), 'ping as Basic alice');
  });

  it('keeps /notifications/schema/events.json public', async () => {
    await expectOk(await call(url(), '/notifications/schema/events.json'), 'schema without credentials');
  });
});

describe('operator API with htpasswd auth', { timeout: 60_000 }, () => {
  let users: Users;
  const h = useWithReceiver(async () => {
    users = await makeUsers();
    return { config: { auth: htpasswdAuth(users.htpasswd) } };
  });
  after(() => removeUsers(users));

  it('serves admins, refuses other users with 403 and anonymous callers with a Basic challenge', async () => {
    await expectOk(await call(h.registry.url, ENDPOINTS, basic('alice', users.passwords.alice)), 'Basic alice');
    await expectError(await call(h.registry.url, ENDPOINTS, basic('bob', users.passwords.bob)), 403, 'DENIED', 'Basic bob');
    const none = await call(h.registry.url, ENDPOINTS);
    assert.equal(none.headers.get('www-authenticate'), 'Basic realm="dockyard"');
    await expectError(none, 401, 'UNAUTHORIZED', 'no credentials');
  });
});

describe('operator API with auth off', { timeout: 60_000 }, () => {
  const remote = { 'x-forwarded-for': '203.0.113.7' };

  describe('and no trusted proxies', () => {
    const h = useWithReceiver();
    it('serves a loopback client and ignores X-Forwarded-For', async () => {
      await expectOk(await call(h.registry.url, ENDPOINTS), 'loopback');
      await expectOk(await call(h.registry.url, ENDPOINTS, undefined, { headers: remote }), 'loopback with X-Forwarded-For');
    });
  });

  describe('behind a trusted proxy on loopback', () => {
    const h = useWithReceiver({ config: { http: { trustedproxies: ['127.0.0.0/8'] } } });
    it('refuses a remote client forwarded by the proxy with 403 DENIED, and still serves the proxy itself', async () => {
      await expectError(await call(h.registry.url, ENDPOINTS, undefined, { headers: remote }), 403, 'DENIED');
      await expectError(await call(h.registry.url, PING, undefined, { method: 'POST', headers: remote }), 403, 'DENIED', 'ping');
      await expectOk(await call(h.registry.url, ENDPOINTS), 'the proxy’s own request');
    });
  });

  describe('behind a trusted proxy with notifications.admin.allowremote', () => {
    const h = useWithReceiver({
      config: { http: { trustedproxies: ['127.0.0.0/8'] } },
      notifications: { admin: { allowremote: true } },
    });
    it('serves a remote client', async () => {
      await expectOk(await call(h.registry.url, ENDPOINTS, undefined, { headers: remote }), 'remote with allowremote');
    });
  });
});
