import assert from 'node:assert/strict';
import { after, beforeEach, describe, it } from 'node:test';
import type { Event } from '../../src/notify/event.ts';
import { expectError } from '../helpers/assertions.ts';
import { bytes } from '../helpers/client.ts';
import { ociImage, randomBlob, type ImageFixture } from '../helpers/oci.ts';
import { summary } from '../helpers/receiver.ts';
import { assertValidEvent, useWithReceiver } from '../notify/support.ts';
import {
  AuthClient, basic, bearer, getToken, htpasswdAuth, makeUsers, removeUsers, seedImages, tokenServiceAuth, type Users,
} from './service-support.ts';

/** Who did it and from where: `actor` and `request.addr` of the events authenticated requests cause. */

const APP_PUSH = 'repository:team/app:pull,push';
const PROXIED = { 'x-forwarded-for': '198.51.100.9, 127.0.0.1' };

/** The digests an image's push events name, in push order (config, layers, manifest). */
function pushedDigests(image: ImageFixture): string[] {
  return [image.config.digest, ...image.layers.map((l) => l.digest), image.digest];
}

function checked(events: Event[]): Event[] {
  for (const e of events) assertValidEvent(e);
  return events;
}

describe('event actors with the token service', { timeout: 60_000 }, () => {
  let users: Users;
  let seeded: Map<string, ImageFixture>;
  const h = useWithReceiver(async () => {
    users = await makeUsers();
    seeded = await seedImages(users.storage, [['public/x', 'v1']]);
    return {
      config: {
        auth: tokenServiceAuth(users.htpasswd),
        storage: { filesystem: { rootdirectory: users.storage } },
        http: { trustedproxies: ['127.0.0.1/32'] },
      },
    };
  });
  after(() => removeUsers(users));
  beforeEach(() => h.receiver.clear());

  const url = () => h.registry.url;
  const tokenFor = async (user: 'alice' | 'bob', scopes: string[], extra: Record<string, string> = {}) =>
    new AuthClient(url(), bearer((await getToken(url(), { login: [user, users.passwords[user]], scopes })).token), extra);

  it('names alice as the actor of her blob and manifest pushes', async () => {
    const image = ociImage({ layers: 1 });
    await (await tokenFor('alice', [APP_PUSH])).pushImage('team/app', 'alice-1', image);
    const events = checked(await h.receiver.waitFor(3));
    assert.equal(events.length, 3, summary(events));
    assert.deepEqual(events.map((e) => [e.action, e.target.digest]), pushedDigests(image).map((d) => ['push', d]));
    for (const e of events) assert.deepEqual(e.actor, { name: 'alice' }, `actor of ${e.target.digest}`);
    assert.equal(events[2]!.target.tag, 'alice-1');
  });

  it('names bob as the actor of his pull', async () => {
    const image = await (await tokenFor('alice', [APP_PUSH])).pushImage('team/app', 'for-bob', ociImage({ layers: 1 }));
    await h.receiver.waitFor(3);
    h.receiver.clear();
    const res = await (await tokenFor('bob', ['repository:team/app:pull'])).fetch('/v2/team/app/manifests/for-bob');
    assert.equal(res.status, 200);
    await res.arrayBuffer();
    const events = checked(await h.receiver.waitFor(1));
    assert.equal(events.length, 1, summary(events));
    assert.equal(events[0]!.action, 'pull');
    assert.equal(events[0]!.target.digest, image.digest);
    assert.deepEqual(events[0]!.actor, { name: 'bob' });
  });

  it('leaves the actor empty for a pull of public/x with an anonymous token', async () => {
    const anon = new AuthClient(url(), bearer((await getToken(url(), { scopes: ['repository:public/x:pull'] })).token));
    const res = await anon.fetch('/v2/public/x/manifests/v1');
    assert.equal(res.status, 200);
    await res.arrayBuffer();
    const events = checked(await h.receiver.waitFor(1));
    assert.equal(events.length, 1, summary(events));
    assert.equal(events[0]!.target.digest, seeded.get('public/x:v1')!.digest);
    assert.deepEqual(events[0]!.actor, {});
  });

  it('takes request.addr from X-Forwarded-For when the socket is a trusted proxy (right-most untrusted, no port)', async () => {
    const blob = randomBlob(256);
    const client = await tokenFor('alice', [APP_PUSH], PROXIED);
    assert.equal((await client.pushBlob('team/app', blob.data, blob.digest)).status, 201);
    const events = checked(await h.receiver.waitFor(1));
    assert.equal(events[0]!.target.digest, blob.digest);
    assert.equal(events[0]!.request.addr, '198.51.100.9');
  });

  it('emits nothing for bob’s refused push: alice’s next push arrives alone', async () => {
    const bob = await tokenFor('bob', [APP_PUSH]);
    const image = ociImage({ layers: 1 });
    const blob = image.layers[0]!;
    await expectError(await bob.fetch('/v2/team/app/blobs/uploads/', { method: 'POST' }), 403, 'DENIED', 'upload start');
    const single = await bob.fetch(`/v2/team/app/blobs/uploads/?digest=${encodeURIComponent(blob.digest)}`, {
      method: 'POST',
      body: bytes(blob.data),
      headers: { 'content-type': 'application/octet-stream' },
    });
    await expectError(single, 403, 'DENIED', 'single-request blob push');
    await expectError(await bob.pushManifest('team/app', 'bob-tag', image.manifest, image.mediaType), 403, 'DENIED', 'manifest push');

    const mine = randomBlob(128);
    assert.equal((await (await tokenFor('alice', [APP_PUSH])).pushBlob('team/app', mine.data, mine.digest)).status, 201);
    const events = checked(await h.receiver.waitFor(1));
    assert.deepEqual(events.map((e) => [e.action, e.target.digest, e.actor.name]), [['push', mine.digest, 'alice']], summary(events));
    const bobs = new Set(pushedDigests(image));
    assert.ok(!events.some((e) => bobs.has(e.target.digest ?? '') || e.target.tag === 'bob-tag' || e.actor.name === 'bob'));
  });
});

describe('event actors with htpasswd auth', { timeout: 60_000 }, () => {
  let users: Users;
  const h = useWithReceiver(async () => {
    users = await makeUsers();
    return { config: { auth: htpasswdAuth(users.htpasswd) } };
  });
  after(() => removeUsers(users));
  beforeEach(() => h.receiver.clear());

  it('names the Basic user as the actor of a push', async () => {
    const image = ociImage({ layers: 1 });
    await new AuthClient(h.registry.url, basic('alice', users.passwords.alice)).pushImage('hp/app', 'v1', image);
    const events = checked(await h.receiver.waitFor(3));
    assert.deepEqual(events.map((e) => e.target.digest), pushedDigests(image));
    for (const e of events) assert.deepEqual(e.actor, { name: 'alice' }, `actor of ${e.target.digest}`);
  });

  it('reports the socket’s ip:port as request.addr without trusted proxies, even when X-Forwarded-For is sent', async () => {
    const blob = randomBlob(200);
    const client = new AuthClient(h.registry.url, basic('bob', users.passwords.bob), PROXIED);
    assert.equal((await client.pushBlob('hp/bob', blob.data, blob.digest)).status, 201);
    const events = checked(await h.receiver.waitFor(1));
    assert.equal(events[0]!.target.digest, blob.digest);
    assert.deepEqual(events[0]!.actor, { name: 'bob' });
    assert.match(events[0]!.request.addr, /^127\.0\.0\.1:\d{1,5}$/);
  });
});
