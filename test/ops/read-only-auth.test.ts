import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { expectError } from '../helpers/assertions.ts';
import { bytes } from '../helpers/client.ts';
import { ociImage, randomBlob, type ImageFixture } from '../helpers/oci.ts';
import { startTestRegistry, type TestRegistry } from '../helpers/registry.ts';
import { AuthClient, basic, htpasswdAuth, makeUsers, removeUsers, type Users } from '../auth/service-support.ts';

/**
 * Read-only mode behind htpasswd auth: a write is refused only once its caller passed the route's
 * auth check, as Distribution's read-only middleware runs after its auth. An anonymous client gets
 * the challenge (and learns nothing of the mode); a signed-in one the 405; reads are served.
 */
describe('read-only mode with auth: writes refused after the auth check', { timeout: 30_000 }, () => {
  let users: Users;
  let registry: TestRegistry;
  let alice: AuthClient;
  let anonymous: AuthClient;
  let image: ImageFixture;

  before(async () => {
    users = await makeUsers();
    const config = (readOnly: boolean) => ({
      auth: htpasswdAuth(users.htpasswd),
      storage: { filesystem: { rootdirectory: users.storage }, maintenance: { readonly: { enabled: readOnly } } },
    });
    const writable = await startTestRegistry(config(false));
    try {
      image = await new AuthClient(writable.url, basic('alice', users.passwords.alice)).pushImage('team/app', 'v1', ociImage());
    } finally {
      await writable.stop();
    }
    registry = await startTestRegistry(config(true));
    alice = new AuthClient(registry.url, basic('alice', users.passwords.alice));
    anonymous = new AuthClient(registry.url);
  });
  after(async () => {
    await registry?.stop();
    await removeUsers(users);
  });

  const blob = randomBlob(256);
  const writes = (): [string, string, RequestInit][] => [
    ['manifest push', '/v2/team/app/manifests/v2', { method: 'PUT', body: bytes(image.manifest), headers: { 'content-type': image.mediaType } }],
    ['upload start', '/v2/team/app/blobs/uploads/', { method: 'POST' }],
    ['single-request push', `/v2/team/app/blobs/uploads/?digest=${blob.digest}`, { method: 'POST', body: bytes(blob.data) }],
    ['manifest delete', `/v2/team/app/manifests/${image.digest}`, { method: 'DELETE' }],
    ['blob delete', `/v2/team/app/blobs/${image.layers[0]!.digest}`, { method: 'DELETE' }],
  ];

  it('answers an anonymous write 401 UNAUTHORIZED with the Basic challenge, not the read-only refusal', async () => {
    for (const [what, url, init] of writes()) {
      const res = await anonymous.fetch(url, init);
      assert.equal(res.headers.get('www-authenticate'), 'Basic realm="dockyard"', what);
      assert.equal(res.headers.get('allow'), null, `${what}: no Allow header`);
      const [error] = await expectError(res, 401, 'UNAUTHORIZED', what);
      assert.doesNotMatch(JSON.stringify(error), /read-only/, what);
    }
  });

  it('answers a wrong password 401 too', async () => {
    const [, url, init] = writes()[0]!;
    await expectError(await new AuthClient(registry.url, basic('alice', 'not-her-password')).fetch(url, init), 401, 'UNAUTHORIZED');
  });

  it('answers a signed-in write 405 UNSUPPORTED with Allow: GET, HEAD and a detail naming the method and the setting', async () => {
    for (const [what, url, init] of writes()) {
      const res = await alice.fetch(url, init);
      assert.equal(res.headers.get('allow'), 'GET, HEAD', what);
      const [error] = await expectError(res, 405, 'UNSUPPORTED', what);
      assert.match(error!.message, /read-only/, what);
      assert.deepEqual(error!.detail, { method: init.method, setting: 'storage.maintenance.readonly.enabled' }, what);
    }
  });

  it('serves a signed-in client its reads: the manifest, the blobs, the tags; and asks an anonymous one to sign in', async () => {
    const manifest = await alice.fetch('/v2/team/app/manifests/v1', { headers: { accept: image.mediaType } });
    assert.equal(manifest.status, 200);
    assert.deepEqual(Buffer.from(await manifest.arrayBuffer()), image.manifest);
    for (const b of [image.config, ...image.layers]) {
      const res = await alice.fetch(`/v2/team/app/blobs/${b.digest}`);
      assert.equal(res.status, 200);
      assert.deepEqual(Buffer.from(await res.arrayBuffer()), b.data);
    }
    assert.deepEqual(await (await alice.fetch('/v2/team/app/tags/list')).json(), { name: 'team/app', tags: ['v1'] });
    await expectError(await anonymous.fetch('/v2/team/app/tags/list'), 401, 'UNAUTHORIZED');
  });
});
