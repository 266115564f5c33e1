import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import { expectError } from '../helpers/assertions.ts';
import { Client, bytes } from '../helpers/client.ts';
import { MediaTypes, dockerImage, imageIndex, manifestDescriptor, ociImage, sha256, sha512 } from '../helpers/oci.ts';
import { rawRequest } from '../helpers/raw-http.ts';
import { useTestRegistry } from '../helpers/registry.ts';

/** Pulls `reference` and checks that the registry serves exactly what was pushed. */
async function assertServedAsPushed(c: Client, name: string, reference: string, pushed: { manifest: Buffer; digest: string; mediaType: string }) {
  const res = await c.fetch(`/v2/${name}/manifests/${reference}`);
  assert.equal(res.status, 200, `GET ${reference}`);
  const body = Buffer.from(await res.arrayBuffer());
  assert.ok(body.equals(pushed.manifest), 'served bytes differ from the pushed bytes');
  assert.equal(res.headers.get('content-type'), pushed.mediaType);
  assert.equal(res.headers.get('content-length'), String(pushed.manifest.length));
  assert.equal(res.headers.get('docker-content-digest'), pushed.digest);
}

describe('manifests: push and pull', () => {
  const h = useTestRegistry();

  it('answers GET /v2/ with 200 and the Docker-Distribution-API-Version header', async () => {
    const res = await h.client.fetch('/v2/');
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('docker-distribution-api-version'), 'registry/2.0');
    await res.arrayBuffer();
    const head = await h.client.fetch('/v2/', { method: 'HEAD' });
    assert.equal(head.status, 200);
    assert.equal(head.headers.get('docker-distribution-api-version'), 'registry/2.0');
  });

  it('sends the API version header on error responses too', async () => {
    const res = await h.client.fetch('/v2/nothing/here/manifests/latest');
    assert.equal(res.headers.get('docker-distribution-api-version'), 'registry/2.0');
    await expectError(res, 404, 'MANIFEST_UNKNOWN');
  });

  it('pushes an OCI image manifest by tag with 201, Location and Docker-Content-Digest', async () => {
    const image = ociImage();
    for (const blob of [image.config, ...image.layers]) assert.equal((await h.client.pushBlob('oci/app', blob.data, blob.digest)).status, 201);
    const res = await h.client.pushManifest('oci/app', 'v1', image.manifest, image.mediaType);
    assert.equal(res.status, 201, await res.text());
    assert.equal(res.headers.get('docker-content-digest'), image.digest);
    assert.equal(new URL(res.headers.get('location')!, h.registry.url).pathname, `/v2/oci/app/manifests/${image.digest}`);
    await assertServedAsPushed(h.client, 'oci/app', 'v1', image);
    await assertServedAsPushed(h.client, 'oci/app', image.digest, image);
  });

  it('pushes an OCI image manifest by digest and serves it by that digest', async () => {
    const image = ociImage({ layers: 1 });
    await h.client.pushImage('oci/by-digest', image.digest, image);
    await assertServedAsPushed(h.client, 'oci/by-digest', image.digest, image);
  });

  it('pushes a manifest by a sha512 digest and serves it by that digest', async () => {
    const image = ociImage({ layers: 1 });
    const digest = sha512(image.manifest);
    await h.client.pushImage('oci/sha512', digest, image);
    await assertServedAsPushed(h.client, 'oci/sha512', digest, { ...image, digest });
  });

  it('pushes a Docker schema2 manifest and serves its exact bytes as that type', async () => {
    const image = dockerImage();
    await h.client.pushImage('docker/app', 'latest', image);
    await assertServedAsPushed(h.client, 'docker/app', 'latest', image);
  });

  it('pushes an OCI index over pushed child manifests and serves it back', async () => {
    const a = await h.client.pushImage('multi/arch', 'amd64', ociImage({ layers: 1 }));
    const b = await h.client.pushImage('multi/arch', 'arm64', ociImage({ layers: 1 }));
    const index = imageIndex([manifestDescriptor(a), manifestDescriptor(b)]);
    const res = await h.client.pushManifest('multi/arch', 'latest', index.manifest, index.mediaType);
    assert.equal(res.status, 201, await res.text());
    assert.equal(res.headers.get('docker-content-digest'), index.digest);
    await assertServedAsPushed(h.client, 'multi/arch', 'latest', index);
  });

  it('pushes a Docker manifest list over pushed schema2 manifests and serves it back', async () => {
    const a = await h.client.pushImage('docker/list', 'a', dockerImage());
    const b = await h.client.pushImage('docker/list', 'b', dockerImage());
    const list = imageIndex([manifestDescriptor(a), manifestDescriptor(b)], { mediaType: MediaTypes.dockerManifestList });
    const res = await h.client.pushManifest('docker/list', 'latest', list.manifest, list.mediaType);
    assert.equal(res.status, 201, await res.text());
    await assertServedAsPushed(h.client, 'docker/list', 'latest', list);
  });

  it('accepts a manifest without a mediaType field, typed by its Content-Type', async () => {
    const a = await h.client.pushImage('untyped/index', 'child', ociImage({ layers: 1 }));
    const index = imageIndex([manifestDescriptor(a)], { omitMediaTypeField: true });
    const res = await h.client.pushManifest('untyped/index', 'latest', index.manifest, MediaTypes.ociIndex);
    assert.equal(res.status, 201, await res.text());
    await assertServedAsPushed(h.client, 'untyped/index', 'latest', index);
  });

  it('ignores parameters on the pushed Content-Type', async () => {
    const image = ociImage({ layers: 1 });
    for (const blob of [image.config, ...image.layers]) await h.client.pushBlob('params/app', blob.data, blob.digest);
    const res = await h.client.pushManifest('params/app', 'v1', image.manifest, `${image.mediaType}; charset=utf-8`);
    assert.equal(res.status, 201, await res.text());
    await assertServedAsPushed(h.client, 'params/app', 'v1', image);
  });

  it('answers HEAD with the headers of GET and no body', async () => {
    const image = await h.client.pushImage('head/app', 'v1', ociImage());
    for (const ref of ['v1', image.digest]) {
      const res = await h.client.fetch(`/v2/head/app/manifests/${ref}`, { method: 'HEAD' });
      assert.equal(res.status, 200);
      assert.equal(res.headers.get('content-type'), image.mediaType);
      assert.equal(res.headers.get('content-length'), String(image.manifest.length));
      assert.equal(res.headers.get('docker-content-digest'), image.digest);
      assert.equal((await res.arrayBuffer()).byteLength, 0);
    }
  });

  it('answers HEAD and GET for an unknown tag or digest with 404 MANIFEST_UNKNOWN', async () => {
    await h.client.pushImage('head/unknown', 'v1', ociImage({ layers: 1 }));
    const missing = sha256('never pushed');
    for (const ref of ['nope', missing]) {
      await expectError(await h.client.fetch(`/v2/head/unknown/manifests/${ref}`), 404, 'MANIFEST_UNKNOWN');
      assert.equal((await h.client.fetch(`/v2/head/unknown/manifests/${ref}`, { method: 'HEAD' })).status, 404);
    }
  });

  it('answers GET, HEAD and DELETE of a tag that cannot exist with 404 MANIFEST_UNKNOWN', async () => {
    await h.client.pushImage('head/impossible', 'v1', ociImage({ layers: 1 }));
    for (const ref of ['-dash', '.dot', 'a'.repeat(129), 'semi;colon']) {
      await expectError(await h.client.fetch(`/v2/head/impossible/manifests/${ref}`), 404, 'MANIFEST_UNKNOWN', `GET ${ref}`);
      assert.equal((await h.client.fetch(`/v2/head/impossible/manifests/${ref}`, { method: 'HEAD' })).status, 404, `HEAD ${ref}`);
      await expectError(await h.client.fetch(`/v2/head/impossible/manifests/${ref}`, { method: 'DELETE' }), 404, 'MANIFEST_UNKNOWN', `DELETE ${ref}`);
    }
  });

  it('answers a pull from a repository that does not exist with 404', async () => {
    const res = await h.client.fetch('/v2/no/such/repo/manifests/latest');
    assert.equal(res.status, 404);
    const code = ((await res.json()) as { errors: { code: string }[] }).errors[0]!.code;
    assert.ok(['MANIFEST_UNKNOWN', 'NAME_UNKNOWN'].includes(code), code);
  });

  it('moves a tag to the manifest pushed last', async () => {
    const first = await h.client.pushImage('retag/app', 'latest', ociImage({ layers: 1 }));
    const second = await h.client.pushImage('retag/app', 'latest', ociImage({ layers: 1 }));
    await assertServedAsPushed(h.client, 'retag/app', 'latest', second);
    await assertServedAsPushed(h.client, 'retag/app', first.digest, first);
  });

  it('keeps manifests of one repository out of another', async () => {
    const image = await h.client.pushImage('scoped/one', 'v1', ociImage({ layers: 1 }));
    await expectError(await h.client.fetch(`/v2/scoped/two/manifests/${image.digest}`), 404, 'MANIFEST_UNKNOWN');
  });
});

describe('manifests: Accept negotiation', () => {
  const h = useTestRegistry();
  const oci = ociImage({ layers: 1 });
  const docker = dockerImage();
  before(async () => {
    await h.client.pushImage('neg/oci', 'v1', oci);
    await h.client.pushImage('neg/docker', 'v1', docker);
  });

  it('serves a manifest when no Accept header is sent', async () => {
    // node:http sends no Accept header of its own (fetch would add "*/*").
    for (const name of ['neg/oci', 'neg/docker']) {
      const res = await rawRequest(h.registry.url, { path: `/v2/${name}/manifests/v1` });
      assert.equal(res.status, 200, name);
      assert.ok(res.body.equals(name === 'neg/oci' ? oci.manifest : docker.manifest));
    }
  });

  it('serves a manifest whose type is among several accepted types, with parameters', async () => {
    const accept = `${MediaTypes.dockerManifest};q=0.9, ${MediaTypes.ociManifest};q=0.5, ${MediaTypes.ociIndex}`;
    for (const [name, pushed] of [['neg/oci', oci], ['neg/docker', docker]] as const) {
      const res = await h.client.fetch(`/v2/${name}/manifests/v1`, { headers: { accept } });
      assert.equal(res.status, 200, name);
      assert.equal(res.headers.get('content-type'), pushed.mediaType);
      assert.ok(Buffer.from(await res.arrayBuffer()).equals(pushed.manifest));
    }
  });

  it('serves any type to a wildcard Accept', async () => {
    for (const accept of ['*/*', 'application/*', `${MediaTypes.dockerManifest}, */*;q=0.1`]) {
      const res = await h.client.fetch('/v2/neg/oci/manifests/v1', { headers: { accept } });
      assert.equal(res.status, 200, accept);
      await res.arrayBuffer();
    }
  });

  it('answers 404 MANIFEST_UNKNOWN when Accept lists only other types, on GET and HEAD', async () => {
    const accept = `${MediaTypes.dockerManifest}, ${MediaTypes.dockerManifestList}`;
    await expectError(await h.client.fetch('/v2/neg/oci/manifests/v1', { headers: { accept } }), 404, 'MANIFEST_UNKNOWN');
    await expectError(await h.client.fetch(`/v2/neg/oci/manifests/${oci.digest}`, { headers: { accept } }), 404, 'MANIFEST_UNKNOWN');
    const head = await h.client.fetch('/v2/neg/oci/manifests/v1', { method: 'HEAD', headers: { accept } });
    assert.equal(head.status, 404);
    await expectError(await h.client.fetch('/v2/neg/docker/manifests/v1', { headers: { accept: MediaTypes.ociManifest } }), 404, 'MANIFEST_UNKNOWN');
  });

  it('serves the manifest again once the Accept header includes its type', async () => {
    const res = await h.client.fetch('/v2/neg/docker/manifests/v1', { headers: { accept: MediaTypes.dockerManifest } });
    assert.equal(res.status, 200);
    assert.ok(Buffer.from(await res.arrayBuffer()).equals(docker.manifest));
  });

  it('serves a pushed body with unusual whitespace byte for byte', async () => {
    const res = await h.client.fetch('/v2/neg/docker/manifests/v1', { method: 'GET' });
    const body = Buffer.from(await res.arrayBuffer());
    assert.ok(body.equals(docker.manifest));
    assert.equal(sha256(body), docker.digest);
    assert.equal(bytes(body).byteLength, docker.manifest.length);
  });
});
