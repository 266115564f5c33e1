import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import { freePort } from '../helpers/child-registry.ts';
import { MediaTypes, randomBlob, sha256 } from '../helpers/oci.ts';
import { actions, assertEnvelopes, blobTarget, drained, manifestTarget, useWithReceiver } from './support.ts';

/** Settings that change what events say: `http.host` in their URLs, `includereferences`. */
for (const trailing of ['', '/']) {
  describe(`event URLs with http.host set${trailing ? ' (with a trailing slash)' : ''}`, { timeout: 30_000 }, () => {
    let publicUrl: string;
    const h = useWithReceiver(async () => {
      const port = await freePort();
      publicUrl = `http://127.0.0.1:${port}`;
      return { config: { http: { addr: `127.0.0.1:${port}`, host: `${publicUrl}${trailing}` } } };
    });

    it('builds target URLs on the public URL, with exactly one slash before /v2/', async () => {
      const blob = randomBlob(48);
      assert.equal((await h.client.pushBlob('host/app', blob.data, blob.digest)).status, 201);
      await drained(h.registry);
      const events = assertEnvelopes(h.receiver);
      assert.equal(events.length, 1, actions(events).join(', '));
      assert.equal(events[0]!.target.url, `${publicUrl}/v2/host/app/blobs/${blob.digest}`);
      assert.deepEqual(events[0]!.target, blobTarget({ url: publicUrl }, 'host/app', blob));
    });
  });
}

describe('references of a manifest with foreign (non-distributable) layers', { timeout: 30_000 }, () => {
  const h = useWithReceiver({ notifications: { events: { includereferences: true } } });

  it('lists every descriptor the manifest references, foreign layers included, as Distribution does', async () => {
    const config = Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'windows', nonce: randomBytes(8).toString('hex') }));
    const layer = randomBlob(256);
    const foreign = { mediaType: 'application/vnd.docker.image.rootfs.foreign.diff.tar.gzip', size: 1234, digest: sha256(randomBytes(16)), urls: ['https://example.com/base-layer'] };
    for (const b of [{ data: config, digest: sha256(config) }, layer]) {
      assert.equal((await h.client.pushBlob('foreign/app', b.data, b.digest)).status, 201);
    }
    const manifest = Buffer.from(JSON.stringify({
      schemaVersion: 2,
      mediaType: MediaTypes.dockerManifest,
      config: { mediaType: MediaTypes.dockerConfig, size: config.length, digest: sha256(config) },
      layers: [foreign, { mediaType: MediaTypes.dockerLayer, size: layer.data.length, digest: layer.digest }],
    }));
    const image = { manifest, digest: sha256(manifest), mediaType: MediaTypes.dockerManifest };
    await drained(h.registry);
    h.receiver.clear();
    assert.equal((await h.client.pushManifest('foreign/app', 'win', manifest, MediaTypes.dockerManifest)).status, 201);
    await drained(h.registry);
    const [push] = assertEnvelopes(h.receiver);
    assert.deepEqual(push!.target, {
      ...manifestTarget(h.registry, 'foreign/app', image, 'win'),
      references: [
        { mediaType: MediaTypes.dockerConfig, size: config.length, digest: sha256(config) },
        { mediaType: foreign.mediaType, size: foreign.size, digest: foreign.digest },
        { mediaType: MediaTypes.dockerLayer, size: layer.data.length, digest: layer.digest },
      ],
    });
  });
});
