import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
import { expectError } from '../helpers/assertions.ts';
import { ociImage } from '../helpers/oci.ts';
import { startTestRegistry, type TestRegistry } from '../helpers/registry.ts';
import { suiteFixture } from '../helpers/suite-fixture.ts';
import { writeHtpasswd } from './issuer.ts';
import { AuthClient, basic } from './skopeo-auth-support.ts';

/**
 * htpasswd mode (Distribution's `auth.htpasswd`) over plain HTTP: Basic challenges, right and
 * wrong credentials, pushes and pulls, the catalog, access rules, the failed-login limit and the
 * htpasswd file re-read without a restart.
 */

const run = promisify(execFile);
const CHALLENGE = 'Basic realm="dockyard"';
const secret = () => randomBytes(12).toString('hex');

/** An htpasswd file of `users` and a registry in htpasswd mode over it (plus `extra`), for one describe block. */
function useHtpasswdRegistry(users: Record<string, string>, extra: Record<string, unknown> = {}) {
  return suiteFixture(
    'the htpasswd registry',
    async () => {
      const work = await mkdtemp(path.join(tmpdir(), 'dockyard-htpasswd-'));
      const file = path.join(work, 'htpasswd');
      await writeHtpasswd(file, users);
      let registry: TestRegistry;
      try {
        registry = await startTestRegistry({ auth: { htpasswd: { realm: 'dockyard', path: file, ...extra } } });
      } catch (err) {
        await rm(work, { recursive: true, force: true });
        throw err;
      }
      const as = (user: string, password = users[user]!) => new AuthClient(registry.url, basic(user, password));
      return { work, file, registry, as };
    },
    async ({ work, registry }) => {
      await registry.stop();
      await rm(work, { recursive: true, force: true });
    },
  );
}

async function expectChallenge(res: Response, where: string): Promise<void> {
  assert.equal(res.headers.get('www-authenticate'), CHALLENGE, `${where}: WWW-Authenticate`);
  await expectError(res, 401, 'UNAUTHORIZED', where);
}

describe('htpasswd mode without access rules', () => {
  const pw = { alice: secret(), bob: secret() };
  const fixture = useHtpasswdRegistry(pw);
  const get = (p: string, init: RequestInit = {}) => fetch(new URL(p, fixture().registry.url), { redirect: 'manual', ...init });

  it('answers GET /v2/ without credentials with 401 UNAUTHORIZED and a Basic challenge', async () => {
    await expectChallenge(await get('/v2/'), 'GET /v2/ with nothing');
  });

  it('answers GET /v2/ with the right Basic credentials with 200', async () => {
    const res = await fixture().as('alice').fetch('/v2/');
    assert.equal(res.status, 200, await res.text());
  });

  it('answers a wrong password, and an unknown user, with 401 and the Basic challenge', async () => {
    await expectChallenge(await fixture().as('alice', `${pw.alice}x`).fetch('/v2/'), 'GET /v2/ with a wrong password');
    await expectChallenge(await fixture().as('mallory', pw.alice).fetch('/v2/'), 'GET /v2/ as an unknown user');
  });

  it('answers a Bearer header with 401 and the Basic challenge', async () => {
    await expectChallenge(await get('/v2/', { headers: { authorization: 'Bearer eyJhbGciOiJFUzI1NiJ9.e30.c2ln' } }), 'GET /v2/ with a Bearer token');
  });

  it('pushes and pulls an image with Basic credentials, and refuses the pull without them', async () => {
    const bob = fixture().as('bob');
    const image = await bob.pushImage('basic/app', 'v1', ociImage());
    const manifest = await fixture().as('alice').fetch('/v2/basic/app/manifests/v1', { headers: { accept: image.mediaType } });
    assert.equal(manifest.status, 200);
    assert.equal(manifest.headers.get('docker-content-digest'), image.digest);
    assert.ok(Buffer.from(await manifest.arrayBuffer()).equals(image.manifest), 'manifest bytes');
    for (const b of [image.config, ...image.layers]) {
      const res = await bob.fetch(`/v2/basic/app/blobs/${b.digest}`);
      assert.equal(res.status, 200, `GET blob ${b.digest}`);
      assert.ok(Buffer.from(await res.arrayBuffer()).equals(b.data), `blob ${b.digest} bytes`);
    }
    await expectChallenge(await get('/v2/basic/app/manifests/v1', { headers: { accept: image.mediaType } }), 'GET manifest with nothing');
  });

  it('lists the catalog for any valid user', async () => {
    await fixture().as('alice').pushImage('basic/listed', 'v1');
    const res = await fixture().as('bob').fetch('/v2/_catalog');
    const text = await res.text();
    assert.equal(res.status, 200, text);
    const { repositories } = JSON.parse(text) as { repositories: string[] };
    assert.ok(repositories.includes('basic/listed'), `catalog: ${text}`);
  });

  it('lets a user added to the htpasswd file in within a few seconds, without a restart', async () => {
    const carol = secret();
    await expectChallenge(await fixture().as('carol', carol).fetch('/v2/'), 'GET /v2/ as carol before she is added');
    await run('htpasswd', ['-bB', fixture().file, 'carol', carol], { timeout: 30_000 });
    // At most four more tries: together with the first, fewer than the five failures that lock an account.
    let status = 0;
    for (let attempt = 0; attempt < 4 && status !== 200; attempt++) {
      await sleep(1_250);
      const res = await fixture().as('carol', carol).fetch('/v2/');
      await res.arrayBuffer();
      status = res.status;
    }
    assert.equal(status, 200, 'carol is still refused about 5 s after being added to the htpasswd file');
  });
});

describe('htpasswd mode: failed logins are limited', () => {
  const pw = { alice: secret(), bob: secret() };
  const fixture = useHtpasswdRegistry(pw);

  it('answers the attempt after 5 wrong passwords for one user with 429 TOOMANYREQUESTS and Retry-After, even with the right password', async () => {
    for (let i = 1; i <= 5; i++) {
      await expectChallenge(await fixture().as('alice', `wrong-${i}`).fetch('/v2/'), `wrong password #${i}`);
    }
    const res = await fixture().as('alice').fetch('/v2/');
    const retryAfter = res.headers.get('retry-after');
    await expectError(res, 429, 'TOOMANYREQUESTS', 'the right password after 5 failures');
    assert.match(retryAfter ?? '', /^\d+$/, `Retry-After: ${retryAfter}`);
    assert.ok(Number(retryAfter) >= 1 && Number(retryAfter) <= 60, `Retry-After ${retryAfter} is within the 60 s window`);
  });

  it('still lets another user in from the same address', async () => {
    const res = await fixture().as('bob').fetch('/v2/');
    assert.equal(res.status, 200, await res.text());
  });
});

describe('htpasswd mode with access rules', () => {
  const pw = { alice: secret(), bob: secret() };
  const fixture = useHtpasswdRegistry(pw, {
    access: [
      { account: 'alice', repositories: ['**'], actions: ['pull', 'push', 'delete'] },
      { account: 'bob', repositories: ['**'], actions: ['pull'] },
    ],
  });

  it('lets alice push and bob pull', async () => {
    const image = await fixture().as('alice').pushImage('rules/app', 'v1');
    const res = await fixture().as('bob').fetch('/v2/rules/app/manifests/v1', { headers: { accept: image.mediaType } });
    assert.equal(res.status, 200);
    assert.ok(Buffer.from(await res.arrayBuffer()).equals(image.manifest), 'manifest bytes');
  });

  it("refuses bob's PUT manifest with 403 DENIED and stores nothing", async () => {
    const alice = fixture().as('alice');
    const image = ociImage();
    for (const b of [image.config, ...image.layers]) assert.equal((await alice.pushBlob('rules/app', b.data, b.digest)).status, 201);
    await expectError(await fixture().as('bob').pushManifest('rules/app', 'bob', image.manifest, image.mediaType), 403, 'DENIED', "bob's PUT manifest");
    for (const reference of ['bob', image.digest]) {
      const res = await alice.fetch(`/v2/rules/app/manifests/${reference}`, { headers: { accept: image.mediaType } });
      await res.arrayBuffer();
      assert.equal(res.status, 404, `manifest rules/app:${reference} after the refused PUT`);
    }
  });

  it("refuses bob's blob upload with 403 DENIED", async () => {
    await expectError(await fixture().as('bob').fetch('/v2/rules/app/blobs/uploads/', { method: 'POST' }), 403, 'DENIED', "bob's POST upload");
  });

  it('refuses the catalog to a user who is not an admin (403 DENIED)', async () => {
    await expectError(await fixture().as('bob').fetch('/v2/_catalog'), 403, 'DENIED', "bob's GET /v2/_catalog");
  });
});
