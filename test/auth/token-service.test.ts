import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFile, stat } from 'node:fs/promises';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
import { decodeJwt, decodeProtectedHeader } from 'jose';
import { pino } from 'pino';
import { parseConfig } from '../../src/config/load.ts';
import { startRegistry, type RunningRegistry } from '../../src/server.ts';
import { expectError } from '../helpers/assertions.ts';
import { ociImage } from '../helpers/oci.ts';
import { startTestRegistry } from '../helpers/registry.ts';
import {
  AuthClient, basic, bearer, bearerChallenge, getToken, grantedActions, ISSUER, makeUsers, postToken, removeUsers, requestToken,
  SERVICE, tokenBody, tokenServiceAuth, useTokenRegistry, verifyWithJwks, type TokenResponse, type Users,
} from './service-support.ts';

const run = promisify(execFile);
const APP_PUSH = 'repository:team/app:pull,push';

describe('token service: what a token grants', { timeout: 60_000 }, () => {
  const t = useTokenRegistry({ seed: [['public/x', 'v1']] });
  const url = () => t.registry.url;
  const alice = (): [string, string] => ['alice', t.users.passwords.alice];
  const bob = (): [string, string] => ['bob', t.users.passwords.bob];

  it('answers alice with 200 JSON: token, access_token, expires_in of about 300 s and issued_at', async () => {
    const body = await getToken(url(), { login: alice(), scopes: [APP_PUSH, 'repository:other/x:pull'] });
    assert.ok(Math.abs(body.expires_in - 300) <= 5, `expires_in ${body.expires_in}`);
    const issued = Date.parse(body.issued_at);
    assert.ok(Math.abs(issued - Date.now()) < 60_000, `issued_at ${body.issued_at}`);
    assert.match(body.issued_at, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)$/);
  });

  it('signs with a key of /auth/jwks.json and claims iss, aud, sub, exp - iat = 300', async () => {
    const { token } = await getToken(url(), { login: alice(), scopes: [APP_PUSH] });
    const header = decodeProtectedHeader(token);
    assert.equal(header.alg, 'ES256');
    assert.equal(header.typ, 'JWT');
    const { payload, jwks } = await verifyWithJwks(url(), token);
    assert.ok(jwks.keys.some((k) => k.kid === header.kid), `kid ${header.kid} is not in the JWKS`);
    assert.equal(payload.iss, ISSUER);
    assert.ok(payload.aud === SERVICE || (Array.isArray(payload.aud) && payload.aud.includes(SERVICE)), `aud ${JSON.stringify(payload.aud)}`);
    assert.equal(payload.sub, 'alice');
    assert.equal(payload.exp! - payload.iat!, 300);
    assert.equal(typeof payload.jti, 'string');
  });

  it('grants the intersection: team/app pull,push for alice and nothing on other/x', async () => {
    const { token } = await getToken(url(), { login: alice(), scopes: [APP_PUSH, 'repository:other/x:pull'] });
    assert.deepEqual(grantedActions(token, 'team/app'), ['pull', 'push']);
    assert.equal(grantedActions(token, 'other/x'), undefined, 'other/x is left out of access');
  });

  it('grants bob only pull on team/app, and nothing below team/*; alice gets team/** (any depth)', async () => {
    const { token } = await getToken(url(), { login: bob(), scopes: [APP_PUSH, 'repository:team/a/b:pull'] });
    assert.deepEqual(grantedActions(token, 'team/app'), ['pull']);
    assert.equal(grantedActions(token, 'team/a/b'), undefined, '"team/*" is one path component');
    const deep = await getToken(url(), { login: alice(), scopes: ['repository:team/a/b:pull,delete'] });
    assert.deepEqual(grantedActions(deep.token, 'team/a/b'), ['delete', 'pull']);
  });

  it('grants any authenticated user shared/* pull,push and public/* pull', async () => {
    const { token } = await getToken(url(), { login: bob(), scopes: ['repository:shared/lib:pull,push', 'repository:public/x:pull,push'] });
    assert.deepEqual(grantedActions(token, 'shared/lib'), ['pull', 'push']);
    assert.deepEqual(grantedActions(token, 'public/x'), ['pull']);
  });

  it('gives a caller without credentials an anonymous token: public/* pull only, no "*" rules', async () => {
    const { token } = await getToken(url(), { scopes: ['repository:public/x:pull,push', 'repository:shared/lib:pull', 'repository:team/app:pull'] });
    assert.equal(decodeJwt(token).sub, '');
    assert.deepEqual(grantedActions(token, 'public/x'), ['pull']);
    assert.equal(grantedActions(token, 'shared/lib'), undefined, '"*" means any authenticated user');
    assert.equal(grantedActions(token, 'team/app'), undefined);
  });

  describe('tokens on /v2/', () => {
    const image = ociImage({ layers: 1 });
    before(async () => {
      const { token } = await getToken(url(), { login: alice(), scopes: [APP_PUSH] });
      await new AuthClient(url(), bearer(token)).pushImage('team/app', 'v1', image);
    });

    it('let alice pull back the image she pushed to team/app with her token', async () => {
      const { token } = await getToken(url(), { login: alice(), scopes: ['repository:team/app:pull'] });
      const res = await new AuthClient(url(), bearer(token)).fetch('/v2/team/app/manifests/v1');
      assert.equal(res.status, 200);
      assert.equal(res.headers.get('docker-content-digest'), image.digest);
    });

    it('refuse bob’s push with 403 DENIED and store nothing', async () => {
      const { token } = await getToken(url(), { login: bob(), scopes: [APP_PUSH] });
      const client = new AuthClient(url(), bearer(token));
      const other = ociImage({ layers: 1 });
      await expectError(await client.fetch('/v2/team/app/blobs/uploads/', { method: 'POST' }), 403, 'DENIED', 'bob starts an upload');
      await expectError(await client.pushManifest('team/app', 'bob', other.manifest, other.mediaType), 403, 'DENIED', 'bob pushes a manifest');
      const aliceClient = new AuthClient(url(), bearer((await getToken(url(), { login: alice(), scopes: ['repository:team/app:pull'] })).token));
      assert.equal((await aliceClient.fetch('/v2/team/app/manifests/bob', { method: 'HEAD' })).status, 404, 'no tag bob');
      const tags = (await (await aliceClient.fetch('/v2/team/app/tags/list')).json()) as { tags: string[] };
      assert.deepEqual(tags.tags, ['v1']);
      assert.equal((await client.fetch('/v2/team/app/manifests/v1')).status, 200, 'bob may still pull');
    });

    it('send a caller without a token to the registry’s own realm, whose anonymous token pulls public/x only', async () => {
      const challenged = await fetch(new URL('/v2/public/x/manifests/v1', url()));
      assert.equal(challenged.status, 401);
      const params = bearerChallenge(challenged.headers.get('www-authenticate'));
      await challenged.arrayBuffer();
      assert.deepEqual(params, { realm: `${url()}/auth/token`, service: SERVICE, scope: 'repository:public/x:pull' });
      const q = new URLSearchParams({ service: params.service!, scope: params.scope! });
      const body = await tokenBody(await fetch(`${params.realm}?${q}`), 'anonymous token from the challenge');
      const anon = new AuthClient(url(), bearer(body.token));
      const res = await anon.fetch('/v2/public/x/manifests/v1');
      assert.equal(res.status, 200);
      assert.equal(res.headers.get('docker-content-digest'), t.images.get('public/x:v1')!.digest);
      // The spec: an anonymous caller lacking the scope gets 401 (so a client retries with credentials).
      const refused = await anon.fetch('/v2/team/app/manifests/v1');
      await expectError(refused, 401, 'UNAUTHORIZED', 'anonymous token on team/app');
      assert.equal(bearerChallenge(refused.headers.get('www-authenticate')).scope, 'repository:team/app:pull');
    });
  });

  it('refuses a wrong password and an unknown user with 401 UNAUTHORIZED and a Basic challenge', async () => {
    for (const login of [['alice', 'not-her-password'], ['mallory', 'anything']] as [string, string][]) {
      const res = await requestToken(url(), { login, scopes: [APP_PUSH] });
      assert.match(res.headers.get('www-authenticate') ?? '', /^Basic realm="[^"]*"/, `challenge for ${login[0]}`);
      await expectError(res, 401, 'UNAUTHORIZED', `token for ${login[0]}`);
    }
  });

  it('refuses a service other than auth.token.service with 400 UNSUPPORTED', async () => {
    await expectError(await requestToken(url(), { login: alice(), service: 'someone-else' }), 400, 'UNSUPPORTED');
  });

  describe('OAuth2 grants and refresh tokens', () => {
    let grant: TokenResponse;
    const refresh = (refreshToken: string, scope = 'repository:team/app:pull') =>
      postToken(url(), { grant_type: 'refresh_token', refresh_token: refreshToken, service: SERVICE, scope, client_id: 'dockyard-tests' });
    before(async () => {
      const res = await postToken(url(), {
        grant_type: 'password', username: 'alice', password: t.users.passwords.alice, service: SERVICE,
        scope: `${APP_PUSH} repository:shared/lib:pull`, client_id: 'dockyard-tests', access_type: 'offline',
      });
      grant = await tokenBody(res, 'password grant');
    });

    it('answer a password grant with access_type=offline with an access token and a refresh token', async () => {
      assert.equal(typeof grant.refresh_token, 'string');
      const { payload } = await verifyWithJwks(url(), grant.token);
      assert.equal(payload.sub, 'alice');
      assert.deepEqual(grantedActions(grant.token, 'team/app'), ['pull', 'push']);
      assert.deepEqual(grantedActions(grant.token, 'shared/lib'), ['pull']);
    });

    it('refresh to a new access token for alice', async () => {
      const body = await tokenBody(await refresh(grant.refresh_token!), 'refresh grant');
      assert.notEqual(body.token, grant.token);
      const { payload } = await verifyWithJwks(url(), body.token);
      assert.equal(payload.sub, 'alice');
      assert.deepEqual(grantedActions(body.token, 'team/app'), ['pull']);
    });

    it('do not accept a refresh token as a Bearer on /v2/ (401)', async () => {
      const res = await new AuthClient(url(), bearer(grant.refresh_token!)).fetch('/v2/team/app/tags/list');
      await expectError(res, 401, 'UNAUTHORIZED');
    });

    it('refuse a garbage refresh token with 401 UNAUTHORIZED', async () => {
      await expectError(await refresh(`garbage-${randomBytes(16).toString('hex')}`), 401, 'UNAUTHORIZED');
    });

    it('come with a GET only when offline_token=true is asked by a real user', async () => {
      assert.equal(typeof (await getToken(url(), { login: alice(), offline: true })).refresh_token, 'string');
      assert.equal((await getToken(url(), { login: alice() })).refresh_token, undefined);
      assert.equal((await getToken(url(), { offline: true })).refresh_token, undefined, 'no refresh token for anonymous');
    });
  });
});

describe('token service: failed logins are rate-limited', { timeout: 30_000 }, () => {
  const t = useTokenRegistry();

  it('answers 429 with Retry-After after 5 wrong passwords for one account, while another account still logs in', async () => {
    for (let i = 0; i < 5; i++) {
      await expectError(await requestToken(t.registry.url, { login: ['alice', `wrong-${i}`] }), 401, 'UNAUTHORIZED', `wrong password #${i + 1}`);
    }
    const res = await requestToken(t.registry.url, { login: ['alice', t.users.passwords.alice] });
    const retryAfter = Number(res.headers.get('retry-after'));
    await expectError(res, 429, 'TOOMANYREQUESTS', 'the right password after 5 failures');
    assert.ok(Number.isInteger(retryAfter) && retryAfter >= 1 && retryAfter <= 60, `Retry-After ${res.headers.get('retry-after')}`);
    await getToken(t.registry.url, { login: ['bob', t.users.passwords.bob] });
  });
});

describe('token service: the htpasswd file is re-read when it changes', { timeout: 30_000 }, () => {
  const t = useTokenRegistry();

  it('lets a user added to the file get a token within seconds, without a restart', async () => {
    const password = `carol-${randomBytes(6).toString('hex')}`;
    await run('htpasswd', ['-bB', t.users.htpasswd, 'carol', password]);
    // Failed attempts count towards carol's limit of 5: try about once a second (the file is checked at most that often).
    const deadline = Date.now() + 5_000;
    let res = await requestToken(t.registry.url, { login: ['carol', password] });
    while (res.status !== 200 && Date.now() < deadline) {
      await res.arrayBuffer();
      await sleep(1_100);
      res = await requestToken(t.registry.url, { login: ['carol', password] });
    }
    const body = await tokenBody(res, 'carol after she was added');
    assert.equal(decodeJwt(body.token).sub, 'carol');
  });

  it('refuses a user removed from the file: neither login nor refresh', async () => {
    const bob: [string, string] = ['bob', t.users.passwords.bob];
    const { refresh_token } = await getToken(t.registry.url, { login: bob, offline: true });
    assert.ok(refresh_token);
    await run('htpasswd', ['-D', t.users.htpasswd, 'bob']);
    const deadline = Date.now() + 5_000;
    let res = await requestToken(t.registry.url, { login: bob });
    while (res.status === 200 && Date.now() < deadline) {
      await res.arrayBuffer();
      await sleep(200);
      res = await requestToken(t.registry.url, { login: bob });
    }
    await expectError(res, 401, 'UNAUTHORIZED', 'bob after he was removed');
    const refreshed = await postToken(t.registry.url, { grant_type: 'refresh_token', refresh_token, service: SERVICE, client_id: 'dockyard-tests' });
    await expectError(refreshed, 401, 'UNAUTHORIZED', 'bob’s refresh token after he was removed');
    await getToken(t.registry.url, { login: ['alice', t.users.passwords.alice] });
  });
});

describe('token service: secrets never reach the logs', { timeout: 30_000 }, () => {
  let users: Users;
  let running: RunningRegistry;
  const lines: string[] = [];
  before(async () => {
    users = await makeUsers();
    const { config } = parseConfig({
      http: { addr: '127.0.0.1:0' },
      storage: { filesystem: { rootdirectory: users.storage } },
      auth: tokenServiceAuth(users.htpasswd),
    });
    running = await startRegistry(config, pino({ level: 'debug' }, { write: (line: string) => void lines.push(line) }));
  });
  after(async () => {
    await running?.close();
    await removeUsers(users);
  });

  it('logs none of the passwords, Basic credentials, tokens or refresh tokens after logins and Bearer requests', async () => {
    const url = running.url;
    const { alice, bob } = users.passwords;
    const wrong = `wrong-${randomBytes(6).toString('hex')}`;
    const secrets: Record<string, string> = { alice, bob, wrong, aliceBasic: basic('alice', alice).slice(6), wrongBasic: basic('bob', wrong).slice(6) };
    const byGet = await getToken(url, { login: ['alice', alice], scopes: [APP_PUSH], offline: true });
    await expectError(await requestToken(url, { login: ['bob', wrong] }), 401, 'UNAUTHORIZED');
    const byPost = await tokenBody(await postToken(url, {
      grant_type: 'password', username: 'bob', password: bob, service: SERVICE, scope: 'repository:shared/lib:pull,push', client_id: 'x', access_type: 'offline',
    }), 'password grant');
    const refreshed = await tokenBody(await postToken(url, { grant_type: 'refresh_token', refresh_token: byPost.refresh_token!, service: SERVICE, scope: 'repository:shared/lib:pull', client_id: 'x' }), 'refresh');
    Object.assign(secrets, { getToken: byGet.token, getRefresh: byGet.refresh_token!, postToken: byPost.token, postRefresh: byPost.refresh_token!, refreshed: refreshed.token });

    await new AuthClient(url, bearer(byGet.token)).pushImage('team/app', 'v1', ociImage({ layers: 1 }));
    await expectError(await new AuthClient(url, bearer(byPost.token)).fetch('/v2/team/app/blobs/uploads/', { method: 'POST' }), 403, 'DENIED');
    await expectError(await new AuthClient(url, bearer(byGet.refresh_token!)).fetch('/v2/team/app/tags/list'), 401, 'UNAUTHORIZED');
    assert.equal((await new AuthClient(url, bearer(refreshed.token)).fetch('/v2/shared/lib/tags/list')).status, 404);
    await sleep(200); // request lines are written when the response finishes

    const text = lines.join('');
    assert.match(text, /\/auth\/token/, 'the token requests were logged at all');
    for (const [what, secret] of Object.entries(secrets)) {
      assert.ok(!text.includes(secret), `the log holds ${what}`);
      if (secret.split('.').length === 3) assert.ok(!text.includes(secret.split('.')[2]!), `the log holds the signature of ${what}`);
    }
  });
});

describe('token service: the signing key', { timeout: 30_000 }, () => {
  let users: Users;
  after(() => removeUsers(users));

  it('is generated at <storage root>/_auth/token-key.pem with mode 0600 and still verifies old tokens after a restart', async () => {
    users = await makeUsers();
    const config = { auth: tokenServiceAuth(users.htpasswd), storage: { filesystem: { rootdirectory: users.storage } } };
    const first = await startTestRegistry(config);
    let token: string;
    let kid: string | undefined;
    try {
      const keyFile = path.join(users.storage, '_auth', 'token-key.pem');
      assert.equal((await stat(keyFile)).mode & 0o777, 0o600, 'key file mode');
      assert.match(await readFile(keyFile, 'utf8'), /-----BEGIN [A-Z ]*PRIVATE KEY-----/);
      token = (await getToken(first.url, { login: ['alice', users.passwords.alice], scopes: [APP_PUSH] })).token;
      kid = decodeProtectedHeader(token).kid;
      await new AuthClient(first.url, bearer(token)).pushImage('team/app', 'v1', ociImage({ layers: 1 }));
    } finally {
      await first.stop(); // removes only its unused temp root: the storage is in users.dir
    }
    const second = await startTestRegistry(config);
    try {
      assert.equal((await new AuthClient(second.url, bearer(token)).fetch('/v2/team/app/manifests/v1')).status, 200);
      const { jwks } = await verifyWithJwks(second.url, token);
      assert.ok(jwks.keys.some((k) => k.kid === kid), 'the same key after the restart');
    } finally {
      await second.stop();
    }
  });
});
