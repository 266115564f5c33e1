import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { before, describe, it } from 'node:test';
import { assertErrorBody, expectError } from '../helpers/assertions.ts';
import { ociImage, sha256 } from '../helpers/oci.ts';
import { useTestRegistry } from '../helpers/registry.ts';

describe('repository names', () => {
  const h = useTestRegistry();

  it('accepts multi-component names and keeps them apart', async () => {
    const names = ['a', 'a/b', 'a/b/c', 'a.b_c__d--e/f-g/h0'];
    const images = new Map<string, Buffer>();
    for (const name of names) images.set(name, (await h.client.pushImage(name, 'v1', ociImage({ layers: 1 }))).manifest);
    for (const name of names) {
      const res = await h.client.fetch(`/v2/${name}/manifests/v1`);
      assert.equal(res.status, 200, name);
      assert.ok(Buffer.from(await res.arrayBuffer()).equals(images.get(name)!), `${name} serves another repository's manifest`);
      const tags = await h.client.fetch(`/v2/${name}/tags/list`);
      assert.deepEqual(await tags.json(), { name, tags: ['v1'] });
    }
  });

  it('accepts a name of 255 characters, in one component or several', async () => {
    for (const name of ['n'.repeat(255), `${'p'.repeat(100)}/${'q'.repeat(100)}/${'r'.repeat(53)}`]) {
      assert.equal(name.length, 255);
      await h.client.pushImage(name, 'v1', ociImage({ layers: 1 }));
      assert.equal((await h.client.fetch(`/v2/${name}/manifests/v1`, { method: 'HEAD' })).status, 200, `${name.length}-char name`);
    }
  });

  it('refuses a name longer than 255 characters with NAME_INVALID', async () => {
    for (const name of ['n'.repeat(256), `${'a/'.repeat(200)}b`]) {
      await expectError(await h.client.fetch(`/v2/${name}/blobs/uploads/`, { method: 'POST' }), 400, 'NAME_INVALID', `${name.length}-char name`);
    }
  });

  const invalidNames = ['Upper', 'a/Upper', 'trailing-', '-leading', '_under', 'a_', 'a..b', 'a/.b', 'a//b', 'a%20b', 'caf%C3%A9', 'a%00b', 'a:b', 'a@b', 'a+b', 'a%2F%2Fb'];

  for (const [label, method, suffix] of [
    ['manifest GET', 'GET', '/manifests/latest'],
    ['manifest PUT', 'PUT', '/manifests/latest'],
    ['blob GET', 'GET', `/blobs/${sha256('x')}`],
    ['upload POST', 'POST', '/blobs/uploads/'],
    ['upload status GET', 'GET', `/blobs/uploads/${randomUUID()}`],
    ['tags list', 'GET', '/tags/list'],
    ['referrers', 'GET', `/referrers/${sha256('x')}`],
  ] as const) {
    it(`refuses invalid names with 400 NAME_INVALID on ${label}`, async () => {
      for (const name of invalidNames) {
        const init: RequestInit = { method };
        if (method === 'PUT') Object.assign(init, { body: '{}', headers: { 'content-type': 'application/vnd.oci.image.manifest.v1+json' } });
        await expectError(await h.client.fetch(`/v2/${name}${suffix}`, init), 400, 'NAME_INVALID', `${label} ${name}`);
      }
    });
  }

  it('refuses an invalid name even where deletion is concerned', async () => {
    await expectError(await h.client.fetch(`/v2/Bad/manifests/${sha256('x')}`, { method: 'DELETE' }), 400, 'NAME_INVALID');
    await expectError(await h.client.fetch(`/v2/Bad/blobs/${sha256('x')}`, { method: 'DELETE' }), 400, 'NAME_INVALID');
  });
});

describe('malformed digests', () => {
  const h = useTestRegistry();
  before(async () => {
    await h.client.pushImage('dg/app', 'v1', ociImage({ layers: 1 }));
  });

  const hex = sha256('some content').slice(7);
  const malformed = [
    'sha256:xyz',
    `sha256:${hex.slice(1)}`,
    `sha256:${hex}0`,
    `sha256:${hex.toUpperCase()}`,
    `sha1:${hex.slice(0, 40)}`,
    `md5:${hex.slice(0, 32)}`,
    `sha512:${hex}`,
    `SHA256:${hex}`,
    'sha256:',
    `:${hex}`,
    `sha256::${hex}`,
    `sha256:${hex.slice(0, 60)}g123`,
  ];

  it('refuses malformed digests on blob GET, HEAD and DELETE with DIGEST_INVALID', async () => {
    for (const d of malformed) {
      await expectError(await h.client.fetch(`/v2/dg/app/blobs/${d}`), 400, 'DIGEST_INVALID', `GET ${d}`);
      assert.equal((await h.client.fetch(`/v2/dg/app/blobs/${d}`, { method: 'HEAD' })).status, 400, `HEAD ${d}`);
      await expectError(await h.client.fetch(`/v2/dg/app/blobs/${d}`, { method: 'DELETE' }), 400, 'DIGEST_INVALID', `DELETE ${d}`);
    }
  });

  it('refuses malformed digests as manifest references with DIGEST_INVALID', async () => {
    for (const d of malformed) {
      await expectError(await h.client.fetch(`/v2/dg/app/manifests/${d}`), 400, 'DIGEST_INVALID', `GET ${d}`);
      await expectError(await h.client.fetch(`/v2/dg/app/manifests/${d}`, { method: 'DELETE' }), 400, 'DIGEST_INVALID', `DELETE ${d}`);
    }
  });

  it('refuses malformed digests as referrers subjects with DIGEST_INVALID', async () => {
    for (const d of malformed) await expectError(await h.client.fetch(`/v2/dg/app/referrers/${d}`), 400, 'DIGEST_INVALID', d);
  });
});

describe('routes and methods', () => {
  const h = useTestRegistry();
  const d = sha256('route');
  const uuid = randomUUID();

  it('answers unknown paths with 404 and a spec error body', async () => {
    for (const path of ['/', '/v1/', '/v3/', '/V2/', '/v2/app', '/v2/app/unknown/thing', '/v2/app/manifests/', '/v2/app/blobs/', `/v2/app/referrers/`, '/v2/app/tags', '/favicon.ico']) {
      const res = await h.client.fetch(path);
      assert.equal(res.status, 404, path);
      assertErrorBody(await res.json(), path);
    }
  });

  const table: [string, string, string[]][] = [
    ['PUT', '/v2/', ['GET', 'HEAD']],
    ['DELETE', '/v2/', ['GET', 'HEAD']],
    ['POST', '/v2/app/manifests/latest', ['GET', 'HEAD', 'PUT', 'DELETE']],
    ['PATCH', '/v2/app/manifests/latest', ['GET', 'HEAD', 'PUT', 'DELETE']],
    ['PUT', `/v2/app/blobs/${d}`, ['GET', 'HEAD', 'DELETE']],
    ['POST', `/v2/app/blobs/${d}`, ['GET', 'HEAD', 'DELETE']],
    ['GET', '/v2/app/blobs/uploads/', ['POST']],
    ['PUT', '/v2/app/blobs/uploads/', ['POST']],
    ['POST', `/v2/app/blobs/uploads/${uuid}`, ['GET', 'PATCH', 'PUT', 'DELETE']],
    ['PUT', '/v2/app/tags/list', ['GET']],
    ['DELETE', '/v2/_catalog', ['GET']],
    ['POST', `/v2/app/referrers/${d}`, ['GET']],
  ];

  for (const [method, path, allowed] of table) {
    it(`answers ${method} ${path.replace(/[0-9a-f]{64}|[0-9a-f-]{36}/, '…')} with 405 UNSUPPORTED and Allow`, async () => {
      const res = await h.client.fetch(path, { method, body: method === 'GET' ? undefined : '' });
      await expectError(res, 405, 'UNSUPPORTED', `${method} ${path}`);
      const allow = (res.headers.get('allow') ?? '').split(',').map((m) => m.trim()).filter(Boolean);
      for (const m of allowed) assert.ok(allow.includes(m), `Allow "${res.headers.get('allow')}" lacks ${m}`);
      assert.ok(!allow.includes(method), `Allow lists the refused ${method}`);
    });
  }

  it('answers OPTIONS with 405 UNSUPPORTED and an Allow header', async () => {
    const res = await h.client.fetch('/v2/app/manifests/latest', { method: 'OPTIONS' });
    await expectError(res, 405, 'UNSUPPORTED');
    assert.ok(res.headers.get('allow'));
  });

  it('answers HEAD for an unsupported route with a bodiless error status', async () => {
    const res = await h.client.fetch('/v2/nothing', { method: 'HEAD' });
    assert.equal(res.status, 404);
    assert.equal((await res.arrayBuffer()).byteLength, 0);
  });
});
