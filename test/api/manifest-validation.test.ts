import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import { assertErrorBody, expectError, expectRawError } from '../helpers/assertions.ts';
import { MediaTypes, imageIndex, manifestDescriptor, ociImage, randomBlob, sha256 } from '../helpers/oci.ts';
import { rawRequest } from '../helpers/raw-http.ts';
import { useTestRegistry } from '../helpers/registry.ts';

const FOUR_MIB = 4 * 1024 * 1024;

/** A syntactically valid OCI manifest (config only, already pushed) padded to exactly `size` bytes. */
function paddedManifest(config: { digest: string; data: Buffer }, size: number): Buffer {
  const make = (pad: string) =>
    Buffer.from(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: MediaTypes.ociManifest,
        config: { mediaType: MediaTypes.ociConfig, digest: config.digest, size: config.data.length },
        layers: [],
        annotations: { pad },
      }),
    );
  const overhead = make('').length;
  return make('x'.repeat(size - overhead));
}

describe('manifests: validation on push', () => {
  const h = useTestRegistry();
  const config = randomBlob(64);
  before(async () => {
    assert.equal((await h.client.pushBlob('val/app', config.data, config.digest)).status, 201);
  });

  const manifestOver = (layers: { digest: string; size: number }[], cfg = config) =>
    Buffer.from(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: MediaTypes.ociManifest,
        config: { mediaType: MediaTypes.ociConfig, digest: cfg.digest, size: cfg.data.length },
        layers: layers.map((l) => ({ mediaType: MediaTypes.ociLayer, ...l })),
      }),
    );

  it('refuses a manifest whose layer was never pushed with MANIFEST_BLOB_UNKNOWN', async () => {
    const missing = randomBlob(10);
    const res = await h.client.pushManifest('val/app', 'v1', manifestOver([{ digest: missing.digest, size: 10 }]), MediaTypes.ociManifest);
    await expectError(res, [400, 404], 'MANIFEST_BLOB_UNKNOWN');
    await expectError(await h.client.fetch('/v2/val/app/manifests/v1'), 404, 'MANIFEST_UNKNOWN');
  });

  it('refuses a manifest whose config blob was never pushed with MANIFEST_BLOB_UNKNOWN', async () => {
    const res = await h.client.pushManifest('val/app', 'v2', manifestOver([], randomBlob(20)), MediaTypes.ociManifest);
    await expectError(res, [400, 404], 'MANIFEST_BLOB_UNKNOWN');
  });

  it('refuses a manifest whose blob exists only in another repository', async () => {
    const elsewhere = randomBlob(32);
    assert.equal((await h.client.pushBlob('val/other', elsewhere.data, elsewhere.digest)).status, 201);
    const res = await h.client.pushManifest('val/app', 'v3', manifestOver([{ digest: elsewhere.digest, size: 32 }]), MediaTypes.ociManifest);
    await expectError(res, [400, 404], 'MANIFEST_BLOB_UNKNOWN');
  });

  it('accepts a manifest whose foreign layer (with urls) is not in the registry', async () => {
    const foreign = randomBlob(16);
    const body = Buffer.from(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: MediaTypes.ociManifest,
        config: { mediaType: MediaTypes.ociConfig, digest: config.digest, size: config.data.length },
        layers: [{ mediaType: 'application/vnd.oci.image.layer.nondistributable.v1.tar+gzip', digest: foreign.digest, size: 16, urls: ['https://example.com/layer'] }],
      }),
    );
    const res = await h.client.pushManifest('val/app', 'foreign', body, MediaTypes.ociManifest);
    assert.equal(res.status, 201, await res.text());
  });

  it('refuses an index that references a child manifest not in the repository', async () => {
    const child = ociImage({ layers: 1 }); // built, never pushed
    const index = imageIndex([manifestDescriptor(child)]);
    await expectError(await h.client.pushManifest('val/app', 'index', index.manifest, index.mediaType), [400, 404], 'MANIFEST_BLOB_UNKNOWN');
  });

  it('refuses an index whose child was pushed only to another repository', async () => {
    const child = await h.client.pushImage('val/other', 'child', ociImage({ layers: 1 }));
    const index = imageIndex([manifestDescriptor(child)]);
    await expectError(await h.client.pushManifest('val/app', 'index2', index.manifest, index.mediaType), [400, 404], 'MANIFEST_BLOB_UNKNOWN');
  });

  it('refuses a body that is not JSON with MANIFEST_INVALID', async () => {
    for (const body of ['{not json', '', '\u0000\u0001', '{"schemaVersion":2,']) {
      await expectError(await h.client.pushManifest('val/app', 'bad', Buffer.from(body), MediaTypes.ociManifest), 400, 'MANIFEST_INVALID', JSON.stringify(body));
    }
  });

  it('refuses JSON that is not a manifest object with MANIFEST_INVALID', async () => {
    for (const body of ['null', '[]', '"text"', '42', '{}', '{"schemaVersion":1}']) {
      await expectError(await h.client.pushManifest('val/app', 'bad', Buffer.from(body), MediaTypes.ociManifest), 400, 'MANIFEST_INVALID', body);
    }
  });

  it('refuses manifests that break the schema with MANIFEST_INVALID', async () => {
    const base = { schemaVersion: 2, mediaType: MediaTypes.ociManifest, config: { mediaType: MediaTypes.ociConfig, digest: config.digest, size: config.data.length }, layers: [] };
    const broken: Record<string, unknown>[] = [
      { ...base, schemaVersion: 3 },
      { ...base, config: undefined },
      { ...base, layers: 'none' },
      { ...base, config: { ...base.config, digest: 'sha256:xyz' } },
      { ...base, config: { ...base.config, size: -1 } },
      { ...base, config: { ...base.config, size: 1.5 } },
      { ...base, config: { ...base.config, mediaType: '' } },
      { ...base, annotations: { key: 7 } },
      { ...base, subject: { mediaType: MediaTypes.ociManifest, digest: 'md5:abc', size: 1 } },
    ];
    for (const m of broken) {
      await expectError(await h.client.pushManifest('val/app', 'bad', Buffer.from(JSON.stringify(m)), MediaTypes.ociManifest), 400, 'MANIFEST_INVALID', JSON.stringify(m));
    }
  });

  it('refuses an unknown manifest media type with MANIFEST_INVALID', async () => {
    const body = manifestOver([]);
    for (const type of ['application/vnd.example.unknown+json', 'text/plain', 'application/vnd.docker.distribution.manifest.v1+prettyjws']) {
      const m = Buffer.from(JSON.stringify({ ...JSON.parse(body.toString()), mediaType: undefined }));
      await expectError(await h.client.pushManifest('val/app', 'unknown-type', m, type), 400, 'MANIFEST_INVALID', type);
    }
    const declared = Buffer.from(JSON.stringify({ ...JSON.parse(body.toString()), mediaType: 'application/vnd.example.unknown+json' }));
    await expectError(await h.client.pushManifest('val/app', 'unknown-type', declared, 'application/json'), 400, 'MANIFEST_INVALID');
  });

  it('refuses a manifest whose mediaType field contradicts its Content-Type', async () => {
    await expectError(await h.client.pushManifest('val/app', 'mismatch', manifestOver([]), MediaTypes.dockerManifest), 400, 'MANIFEST_INVALID');
  });

  it('accepts a generic Content-Type when the manifest declares its mediaType, and serves that type', async () => {
    const body = manifestOver([]);
    const res = await h.client.pushManifest('val/app', 'generic', body, 'application/json');
    assert.equal(res.status, 201, await res.text());
    const got = await h.client.fetch('/v2/val/app/manifests/generic');
    assert.equal(got.headers.get('content-type'), MediaTypes.ociManifest);
    assert.ok(Buffer.from(await got.arrayBuffer()).equals(body));
  });

  it('refuses a manifest with neither a Content-Type nor a mediaType field', async () => {
    const body = Buffer.from(JSON.stringify({ ...JSON.parse(manifestOver([]).toString()), mediaType: undefined }));
    const res = await rawRequest(h.registry.url, { method: 'PUT', path: '/v2/val/app/manifests/typeless', body });
    expectRawError(res, 400, 'MANIFEST_INVALID', 'PUT without Content-Type');
  });

  it('refuses a PUT by digest whose body has another digest with DIGEST_INVALID', async () => {
    const body = Buffer.from(JSON.stringify({ ...JSON.parse(manifestOver([]).toString()), annotations: { only: 'here' } }));
    const wrong = sha256(Buffer.concat([body, Buffer.from(' ')]));
    await expectError(await h.client.pushManifest('val/app', wrong, body, MediaTypes.ociManifest), 400, 'DIGEST_INVALID');
    await expectError(await h.client.fetch(`/v2/val/app/manifests/${wrong}`), 404, 'MANIFEST_UNKNOWN');
    await expectError(await h.client.fetch(`/v2/val/app/manifests/${sha256(body)}`), 404, 'MANIFEST_UNKNOWN');
  });

  it('refuses a PUT to a malformed digest reference with DIGEST_INVALID', async () => {
    const body = manifestOver([]);
    for (const ref of ['sha256:xyz', `sha256:${'a'.repeat(63)}`, `md5:${'a'.repeat(32)}`, `sha256:${'A'.repeat(64)}`]) {
      await expectError(await h.client.pushManifest('val/app', ref, body, MediaTypes.ociManifest), 400, 'DIGEST_INVALID', ref);
    }
  });

  it('refuses a PUT to an invalid tag with a 400 error body', async () => {
    for (const ref of ['-leading-dash', '.dot', 'a'.repeat(129), 'has+plus']) {
      const res = await h.client.pushManifest('val/app', ref, manifestOver([]), MediaTypes.ociManifest);
      assert.equal(res.status, 400, ref);
      assertErrorBody(await res.json(), ref);
    }
  });

  it('accepts a tag of the maximum length of 128 characters', async () => {
    const tag = `T${'a_.-'.repeat(31)}xyz`;
    assert.equal(tag.length, 128);
    assert.equal((await h.client.pushManifest('val/app', tag, manifestOver([]), MediaTypes.ociManifest)).status, 201);
    assert.equal((await h.client.fetch(`/v2/val/app/manifests/${tag}`)).status, 200);
  });

  it('accepts a manifest of exactly 4 MiB', async () => {
    const body = paddedManifest(config, FOUR_MIB);
    assert.equal(body.length, FOUR_MIB);
    const res = await h.client.pushManifest('val/app', 'four-mib', body, MediaTypes.ociManifest);
    assert.equal(res.status, 201, await res.text());
    const got = await h.client.fetch('/v2/val/app/manifests/four-mib');
    assert.ok(Buffer.from(await got.arrayBuffer()).equals(body));
  });

  it('refuses a manifest over 4 MiB declared by Content-Length with 413', async () => {
    const body = paddedManifest(config, FOUR_MIB + 1);
    const res = await rawRequest(h.registry.url, {
      method: 'PUT',
      path: '/v2/val/app/manifests/too-big',
      headers: { 'content-type': MediaTypes.ociManifest, 'content-length': body.length },
      body,
    });
    expectRawError(res, 413, 'MANIFEST_INVALID', 'oversized manifest (Content-Length)');
    await expectError(await h.client.fetch('/v2/val/app/manifests/too-big'), 404, 'MANIFEST_UNKNOWN');
  });

  it('refuses a manifest over 4 MiB streamed without Content-Length with 413', async () => {
    const body = paddedManifest(config, FOUR_MIB + 4096);
    const res = await rawRequest(h.registry.url, {
      method: 'PUT',
      path: '/v2/val/app/manifests/too-big-chunked',
      headers: { 'content-type': MediaTypes.ociManifest, 'transfer-encoding': 'chunked' },
      body,
    });
    expectRawError(res, 413, 'MANIFEST_INVALID', 'oversized manifest (chunked)');
    await expectError(await h.client.fetch('/v2/val/app/manifests/too-big-chunked'), 404, 'MANIFEST_UNKNOWN');
  });

  it('still answers on the same registry after refusing an oversized manifest', async () => {
    const res = await h.client.fetch('/v2/');
    assert.equal(res.status, 200);
    await res.arrayBuffer();
  });
});
