import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { expectError } from '../helpers/assertions.ts';
import { Client, bytes, withDigest } from '../helpers/client.ts';
import { ociImage, randomBlob } from '../helpers/oci.ts';
import { startTestRegistry } from '../helpers/registry.ts';

describe('configuration as the registry applies it', () => {
  it('writes absolute Location headers on http.host', async () => {
    const reg = await startTestRegistry({ http: { host: 'https://registry.example.com' } });
    try {
      const c = new Client(reg.url);
      const start = await c.fetch('/v2/loc/app/blobs/uploads/', { method: 'POST' });
      const location = start.headers.get('location')!;
      assert.match(location, /^https:\/\/registry\.example\.com\/v2\/loc\/app\/blobs\/uploads\/[0-9a-f-]{36}$/);
      const blob = randomBlob(10);
      const put = await c.fetch(withDigest(new URL(location).pathname, blob.digest), { method: 'PUT', body: bytes(blob.data) });
      assert.equal(put.headers.get('location'), `https://registry.example.com/v2/loc/app/blobs/${blob.digest}`);
      const image = ociImage({ layers: 0 });
      // Not pushBlob: it would follow the absolute Location off the loopback interface.
      const config = await c.fetch(withDigest('/v2/loc/app/blobs/uploads/', image.config.digest), { method: 'POST', body: bytes(image.config.data) });
      assert.equal(config.status, 201);
      assert.equal(config.headers.get('location'), `https://registry.example.com/v2/loc/app/blobs/${image.config.digest}`);
      const manifest = await c.pushManifest('loc/app', 'v1', image.manifest, image.mediaType);
      assert.equal(manifest.headers.get('location'), `https://registry.example.com/v2/loc/app/manifests/${image.digest}`);
    } finally {
      await reg.stop();
    }
  });

  it('adds http.headers to every response, errors included, as Distribution does', async () => {
    const reg = await startTestRegistry({ http: { headers: { 'X-Content-Type-Options': ['nosniff'], 'X-Frame-Options': 'DENY' } } });
    try {
      const c = new Client(reg.url);
      for (const res of [await c.fetch('/v2/'), await c.fetch('/v2/none/manifests/v1'), await c.fetch('/nowhere')]) {
        assert.equal(res.headers.get('x-content-type-options'), 'nosniff', res.url);
        assert.equal(res.headers.get('x-frame-options'), 'DENY', res.url);
        await res.arrayBuffer();
      }
    } finally {
      await reg.stop();
    }
  });

  it('purges abandoned upload sessions older than uploadpurging.age', async () => {
    const reg = await startTestRegistry({ storage: { maintenance: { uploadpurging: { enabled: true, age: '1ms', interval: '50ms' } } } });
    try {
      const c = new Client(reg.url);
      const location = await c.startUpload('purge/app');
      let status = 204;
      for (let i = 0; i < 50 && status === 204; i++) {
        await new Promise((r) => setTimeout(r, 50));
        const res = await c.fetch(location);
        status = res.status;
        await res.arrayBuffer();
      }
      assert.equal(status, 404, 'the abandoned upload was never purged');
      await expectError(await c.fetch(location), 404, 'BLOB_UPLOAD_UNKNOWN');
    } finally {
      await reg.stop();
    }
  });

  it('only reports what it would purge on uploadpurging.dryrun', async () => {
    const reg = await startTestRegistry({ storage: { maintenance: { uploadpurging: { enabled: true, age: '1ms', interval: '20ms', dryrun: true } } } });
    try {
      const c = new Client(reg.url);
      const location = await c.startUpload('purge/dry');
      await new Promise((r) => setTimeout(r, 300));
      assert.equal((await c.fetch(location)).status, 204);
    } finally {
      await reg.stop();
    }
  });
});
