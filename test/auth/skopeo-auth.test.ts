import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Event } from '../../src/notify/event.ts';
import { buildImage, imageBlobs, readLayout, Skopeo, type Image } from '../e2e/skopeo-fixtures.ts';
import { suiteFixture } from '../helpers/suite-fixture.ts';
import { assertValidEvent, startWithReceiver, type StartedHarness } from '../notify/support.ts';
import { repositoryAccess, TestIssuer, writeHtpasswd } from './issuer.ts';
import {
  assertNothingStored, assertSameBlobs, AuthClient, awaitManifestPush, awaitMarker, basic, eventsAbout, layoutOf, serviceToken,
  startTokenServer, under, type TokenServer,
} from './skopeo-auth-support.ts';

/**
 * The real `skopeo` client against a registry with authentication on: the built-in token service,
 * htpasswd (Basic) mode and an external token issuer. Each refused push must leave nothing behind
 * and emit no event; each allowed operation's events name the authenticated user.
 */

const secret = () => randomBytes(12).toString('hex');

/** Awaits a skopeo run that must fail; returns its error text (skopeo's stderr included). */
async function failure(run: Promise<string>): Promise<string> {
  try {
    const out = await run;
    return assert.fail(`skopeo succeeded where it must fail: ${out.slice(0, 300)}`);
  } catch (err) {
    if (err instanceof assert.AssertionError) throw err;
    return String(err);
  }
}

/** The push events of `image` into `name:tag`: one per blob and the manifest's, each naming `actor`, no secret in them. */
function assertPushedBy(events: Event[], name: string, tag: string, image: Image, actor: string, secrets: string[]): void {
  const pushes = eventsAbout(events, name, tag, image).filter((e) => e.action === 'push' && e.target.repository === name);
  assert.deepEqual(pushes.map((e) => e.target.digest).sort(), imageBlobs(image).map((b) => b.digest).sort(), 'one push event per blob and one for the manifest');
  for (const e of pushes) {
    assertValidEvent(e);
    assert.deepEqual(e.actor, { name: actor }, `actor of the push of ${e.target.digest}`);
  }
  for (const s of secrets) assert.ok(!JSON.stringify(events).includes(s), 'a credential appears in an event');
}

describe('skopeo with the built-in token service', { timeout: 300_000 }, () => {
  const SERVICE = 'dockyard-test';
  const pw = { alice: secret(), bob: secret() };
  let work: string;
  let skopeo: Skopeo;
  let h: StartedHarness;
  let host: string;
  const app = buildImage('oci', 2);
  const ref = (nameAndRef: string) => `docker://${host}/${nameAndRef}`;
  /** A client with alice's token for `scopes`, fetched from the registry's own token service. */
  const asAlice = async (...scopes: string[]) => new AuthClient(h.registry.url, `Bearer ${await serviceToken(h.registry.url, SERVICE, 'alice', pw.alice, scopes)}`);

  before(async () => {
    work = await mkdtemp(path.join(tmpdir(), 'dockyard-skopeo-auth-'));
    skopeo = await Skopeo.create(path.join(work, 'skopeo'));
    const htpasswd = path.join(work, 'htpasswd');
    await writeHtpasswd(htpasswd, pw);
    h = await startWithReceiver({
      config: {
        auth: {
          token: { realm: 'http://127.0.0.1/auth/token', autoredirect: true, service: SERVICE, issuer: 'dockyard-test-issuer' },
          tokenservice: {
            htpasswd,
            admins: ['alice'],
            access: [
              { account: 'alice', repositories: ['team/**', 'public/**'], actions: ['pull', 'push', 'delete'] },
              { account: 'bob', repositories: ['team/**'], actions: ['pull'] },
              { account: 'anonymous', repositories: ['public/*'], actions: ['pull'] },
            ],
          },
        },
      },
    });
    host = `127.0.0.1:${h.registry.port}`;
  });
  after(async () => {
    await h?.stop();
    if (work) await rm(work, { recursive: true, force: true });
  });

  it('lets alice push team/app:v1 with her password; its events name her as the actor', async () => {
    await skopeo.run('copy', '--dest-tls-verify=false', '--dest-creds', `alice:${pw.alice}`, await layoutOf(under(work, 'app'), app), ref('team/app:v1'));
    const events = await awaitManifestPush(h.receiver, 'team/app', 'v1', app);
    assertPushedBy(events, 'team/app', 'v1', app, 'alice', [pw.alice]);
  });

  it('lets bob pull team/app:v1 with his password, byte for byte', async () => {
    const out = under(work, 'bob-pull');
    await skopeo.run('copy', '--src-tls-verify=false', '--src-creds', `bob:${pw.bob}`, ref('team/app:v1'), `oci:${out}:v1`);
    assertSameBlobs((await readLayout(out)).blobs, app);
  });

  it('refuses bob a push to team/app: skopeo fails, nothing is stored, no event is sent', async () => {
    const image = buildImage('oci', 2);
    const message = await failure(skopeo.run('copy', '--dest-tls-verify=false', '--dest-creds', `bob:${pw.bob}`, await layoutOf(under(work, 'bob-push'), image), ref('team/app:bob')));
    const alice = await asAlice('repository:team/app:pull');
    await assertNothingStored(alice, 'team/app', 'bob', image);
    const events = await awaitMarker(alice, h.receiver, 'team/app', 'v1', app.mediaType);
    assert.deepEqual(eventsAbout(events, 'team/app', 'bob', image), [], 'events of the refused push');
    // A valid identity without the scope gets 403 DENIED, which skopeo reports as "denied".
    assert.match(message, /denied/i, 'skopeo should report the 403 DENIED');
  });

  it('lets an anonymous client pull public/x after alice pushed it, but not team/app:v1', async () => {
    const pub = buildImage('oci', 1);
    await skopeo.run('copy', '--dest-tls-verify=false', '--dest-creds', `alice:${pw.alice}`, await layoutOf(under(work, 'public'), pub), ref('public/x:v1'));
    const out = under(work, 'anon-pull');
    await skopeo.run('copy', '--src-tls-verify=false', '--src-no-creds', ref('public/x:v1'), `oci:${out}:v1`);
    assertSameBlobs((await readLayout(out)).blobs, pub);

    const refused = await failure(skopeo.run('copy', '--src-tls-verify=false', '--src-no-creds', ref('team/app:v1'), `oci:${under(work, 'anon-team')}:v1`));
    // An anonymous caller lacking the scope gets 401, which skopeo reports as "unauthorized".
    assert.match(refused, /unauthorized/i, 'skopeo should report the 401 UNAUTHORIZED');

    const events = await awaitMarker(await asAlice('repository:public/x:pull'), h.receiver, 'public/x', 'v1', pub.mediaType);
    const anonymous = events.filter((e) => e.action === 'pull' && e.request.useragent.startsWith('skopeo/'));
    assert.ok(anonymous.some((e) => e.target.repository === 'public/x' && e.target.digest === pub.manifest.digest), 'the anonymous manifest pull was reported');
    assert.ok(!anonymous.some((e) => e.target.repository === 'team/app' && e.actor.name === undefined), 'an anonymous pull of team/app was reported');
    for (const e of anonymous.filter((x) => x.target.repository === 'public/x')) assert.deepEqual(e.actor, {}, 'actor of an anonymous pull');
  });
});

describe('skopeo with htpasswd (Basic) authentication', { timeout: 300_000 }, () => {
  const pw = { alice: secret(), bob: secret(), dave: secret() };
  let work: string;
  let skopeo: Skopeo;
  let htpasswd: string;

  before(async () => {
    work = await mkdtemp(path.join(tmpdir(), 'dockyard-skopeo-htpasswd-'));
    skopeo = await Skopeo.create(path.join(work, 'skopeo'));
    htpasswd = path.join(work, 'htpasswd');
    await writeHtpasswd(htpasswd, pw);
  });
  after(async () => {
    if (work) await rm(work, { recursive: true, force: true });
  });

  /** A registry with `auth.htpasswd` (plus `extra`) and a receiver, for the describe block this is called in. */
  const useRegistry = (extra: Record<string, unknown> = {}) => suiteFixture('the htpasswd registry', async () => {
    const h = await startWithReceiver({ config: { auth: { htpasswd: { realm: 'dockyard', path: htpasswd, ...extra } } } });
    const ref = (nameAndRef: string) => `docker://127.0.0.1:${h.registry.port}/${nameAndRef}`;
    return { h, ref, alice: new AuthClient(h.registry.url, basic('alice', pw.alice)) };
  }, ({ h }) => h.stop());

  describe('without access rules (every valid user may do everything)', () => {
    const registry = useRegistry();
    const image = buildImage('oci', 2);

    it('lets bob push and alice pull back byte for byte; the events name each as the actor', async () => {
      const r = registry();
      await skopeo.run('copy', '--dest-tls-verify=false', '--dest-creds', `bob:${pw.bob}`, await layoutOf(under(work, 'hb'), image), r.ref('hb/app:v1'));
      assertPushedBy(await awaitManifestPush(r.h.receiver, 'hb/app', 'v1', image), 'hb/app', 'v1', image, 'bob', [pw.bob]);

      const out = under(work, 'hb-pull');
      await skopeo.run('copy', '--src-tls-verify=false', '--src-creds', `alice:${pw.alice}`, r.ref('hb/app:v1'), `oci:${out}:v1`);
      assertSameBlobs((await readLayout(out)).blobs, image);
      const events = await awaitMarker(r.alice, r.h.receiver, 'hb/app', 'v1', image.mediaType);
      const pulls = events.filter((e) => e.action === 'pull' && e.request.useragent.startsWith('skopeo/'));
      assert.deepEqual([...new Set(pulls.map((e) => e.target.digest))].sort(), imageBlobs(image).map((b) => b.digest).sort(), 'pull events of the skopeo pull');
      for (const e of pulls) assert.deepEqual(e.actor, { name: 'alice' }, `actor of the pull of ${e.target.digest}`);
      assert.ok(!JSON.stringify(events).includes(pw.alice), 'a credential appears in an event');
    });

    it('fails a push with a wrong password: nothing is stored, no event is sent', async () => {
      const r = registry();
      const wrong = buildImage('oci', 1);
      const message = await failure(skopeo.run('copy', '--dest-tls-verify=false', '--dest-creds', `dave:not-${pw.dave}`, await layoutOf(under(work, 'wrong'), wrong), r.ref('hb/wrong:v1')));
      await assertNothingStored(r.alice, 'hb/wrong', 'v1', wrong);
      const events = await awaitMarker(r.alice, r.h.receiver, 'hb/app', 'v1', image.mediaType);
      assert.deepEqual(eventsAbout(events, 'hb/wrong', 'v1', wrong), [], 'events of the refused push');
      assert.match(message, /unauthorized/i, 'skopeo should report the 401 UNAUTHORIZED');
    });
  });

  describe('with access rules (bob may only pull)', () => {
    const registry = useRegistry({
      access: [
        { account: 'alice', repositories: ['**'], actions: ['pull', 'push', 'delete'] },
        { account: 'bob', repositories: ['**'], actions: ['pull'] },
      ],
    });
    const image = buildImage('oci', 2);

    it('lets alice push and bob pull back byte for byte', async () => {
      const r = registry();
      await skopeo.run('copy', '--dest-tls-verify=false', '--dest-creds', `alice:${pw.alice}`, await layoutOf(under(work, 'acl'), image), r.ref('acl/app:v1'));
      assertPushedBy(await awaitManifestPush(r.h.receiver, 'acl/app', 'v1', image), 'acl/app', 'v1', image, 'alice', [pw.alice]);
      const out = under(work, 'acl-pull');
      await skopeo.run('copy', '--src-tls-verify=false', '--src-creds', `bob:${pw.bob}`, r.ref('acl/app:v1'), `oci:${out}:v1`);
      assertSameBlobs((await readLayout(out)).blobs, image);
    });

    it('refuses bob a push: skopeo fails, nothing is stored, no event is sent', async () => {
      const r = registry();
      const refused = buildImage('oci', 2);
      const message = await failure(skopeo.run('copy', '--dest-tls-verify=false', '--dest-creds', `bob:${pw.bob}`, await layoutOf(under(work, 'acl-bob'), refused), r.ref('acl/app:bob')));
      await assertNothingStored(r.alice, 'acl/app', 'bob', refused);
      const events = await awaitMarker(r.alice, r.h.receiver, 'acl/app', 'v1', image.mediaType);
      assert.deepEqual(eventsAbout(events, 'acl/app', 'bob', refused), [], 'events of the refused push');
      assert.match(message, /denied/i, 'skopeo should report the 403 DENIED');
    });
  });
});

describe('skopeo with an external token issuer', { timeout: 300_000 }, () => {
  const pw = secret();
  let work: string;
  let skopeo: Skopeo;
  let issuer: TestIssuer;
  let tokens: TokenServer;
  let h: StartedHarness;
  let host: string;
  const image = buildImage('oci', 2);
  const ref = (nameAndRef: string) => `docker://${host}/${nameAndRef}`;
  /** A client with a pull token for `name` signed by the issuer directly (for checks, not through skopeo). */
  const checker = async (name: string) => new AuthClient(h.registry.url, `Bearer ${await issuer.sign([repositoryAccess(name, 'pull')], { claims: { sub: 'checker' } })}`);

  before(async () => {
    work = await mkdtemp(path.join(tmpdir(), 'dockyard-skopeo-issuer-'));
    skopeo = await Skopeo.create(path.join(work, 'skopeo'));
    issuer = await TestIssuer.create(work, { issuer: 'ext-issuer', service: 'dockyard-ext' });
    // carol may pull and push in ext/<one component>, and only pull anywhere else.
    tokens = await startTokenServer(issuer, { carol: pw }, (_user, scope) =>
      scope.type !== 'repository' ? [] : /^ext\/[^/]+$/.test(scope.name) ? ['pull', 'push'] : ['pull']);
    h = await startWithReceiver({
      config: { auth: { token: { realm: tokens.realm, service: issuer.service, issuer: issuer.issuer, jwks: issuer.jwksPath } } },
    });
    host = `127.0.0.1:${h.registry.port}`;
  });
  after(async () => {
    await h?.stop();
    await tokens?.close();
    if (work) await rm(work, { recursive: true, force: true });
  });

  it('lets carol push ext/app:v1 and pull it back byte for byte, with tokens from the issuer', async () => {
    await skopeo.run('copy', '--dest-tls-verify=false', '--dest-creds', `carol:${pw}`, await layoutOf(under(work, 'ext'), image), ref('ext/app:v1'));
    assert.ok(
      tokens.requests.some((t) => t.status === 200 && t.user === 'carol' && t.service === issuer.service && t.scopes.some((s) => s.name === 'ext/app' && s.actions.includes('push'))),
      `skopeo asked the issuer for push on ext/app: ${JSON.stringify(tokens.requests)}`,
    );
    assertPushedBy(await awaitManifestPush(h.receiver, 'ext/app', 'v1', image), 'ext/app', 'v1', image, 'carol', [pw]);

    const out = under(work, 'ext-pull');
    await skopeo.run('copy', '--src-tls-verify=false', '--src-creds', `carol:${pw}`, ref('ext/app:v1'), `oci:${out}:v1`);
    assertSameBlobs((await readLayout(out)).blobs, image);
  });

  it('refuses carol a push to another/app: skopeo fails, nothing is stored, no event is sent', async () => {
    const refused = buildImage('oci', 2);
    const message = await failure(skopeo.run('copy', '--dest-tls-verify=false', '--dest-creds', `carol:${pw}`, await layoutOf(under(work, 'another'), refused), ref('another/app:v1')));
    assert.ok(tokens.requests.some((t) => t.user === 'carol' && t.scopes.some((s) => s.name === 'another/app')), 'skopeo asked the issuer for another/app');
    await assertNothingStored(await checker('another/app'), 'another/app', 'v1', refused);
    const events = await awaitMarker(await checker('ext/app'), h.receiver, 'ext/app', 'v1', image.mediaType);
    assert.deepEqual(eventsAbout(events, 'another/app', 'v1', refused), [], 'events of the refused push');
    assert.match(message, /denied/i, 'skopeo should report the 403 DENIED');
  });
});
