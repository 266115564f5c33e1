import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Client, errorCodes } from '../helpers/client.ts';
import { startTestRegistry, type TestRegistry } from '../helpers/registry.ts';
import { startS3rver, type TestS3 } from '../helpers/s3rver.ts';
import {
  buildImage, buildIndex, descriptor, imageBlobs, indexBlobs, MediaType, readDirCopy, readLayout, Skopeo, writeLayout,
  type Blob, type Image,
} from './skopeo-fixtures.ts';

/**
 * Drives the real `skopeo` client against a real registry on loopback: copies an OCI image, a
 * Docker schema2 image and a two-platform index in, copies them back out and compares every
 * blob byte for byte, then lists tags, inspects and deletes. Once on each storage driver: the
 * filesystem, and S3 (s3rver on loopback).
 */
for (const driver of ['filesystem', 's3'] as const)
describe(`skopeo end to end (${driver} storage)`, { timeout: 600_000 }, () => {
  let registry: TestRegistry;
  let client: Client;
  let skopeo: Skopeo;
  let work: string;
  let host: string;
  let s3: TestS3 | undefined;
  const oci = buildImage('oci', 3);
  const docker = buildImage('docker', 3);
  const multi = buildIndex();
  const ref = (nameAndRef: string) => `docker://${host}/${nameAndRef}`;

  before(async () => {
    work = await mkdtemp(path.join(tmpdir(), 'dockyard-skopeo-'));
    skopeo = await Skopeo.create(path.join(work, 'skopeo'));
    if (driver === 's3') s3 = await startS3rver();
    registry = await startTestRegistry({
      storage: { delete: { enabled: true }, ...(s3 ? { filesystem: undefined, s3: s3.storageConfig('skopeo-e2e') } : {}) },
    });
    client = new Client(registry.url);
    host = `127.0.0.1:${registry.port}`;
  });

  after(async () => {
    await registry?.stop();
    await s3?.stop();
    if (work) await rm(work, { recursive: true, force: true });
  });

  /** The registry serves the manifest under `reference` and every blob, as pushed. */
  async function assertStored(name: string, reference: string, manifest: Blob, mediaType: string, blobs: Blob[]): Promise<void> {
    const res = await client.fetch(`/v2/${name}/manifests/${reference}`, { headers: { accept: mediaType } });
    assert.equal(res.status, 200, `GET manifest ${name}:${reference}`);
    assert.equal(res.headers.get('content-type'), mediaType);
    assert.equal(res.headers.get('docker-content-digest'), manifest.digest);
    assert.ok(Buffer.from(await res.arrayBuffer()).equals(manifest.data), `manifest ${name}:${reference} bytes differ`);
    for (const b of blobs) {
      const head = await client.fetch(`/v2/${name}/blobs/${b.digest}`, { method: 'HEAD' });
      assert.equal(head.status, 200, `HEAD blob ${b.digest} in ${name}`);
      assert.equal(head.headers.get('content-length'), String(b.data.length), `size of blob ${b.digest}`);
      assert.equal(head.headers.get('docker-content-digest'), b.digest);
    }
  }

  /** `actual` holds exactly the `expected` blobs, each byte for byte. */
  function assertSameBlobs(actual: Map<string, Buffer>, expected: Blob[]): void {
    assert.deepEqual([...actual.keys()].sort(), [...new Set(expected.map((b) => b.digest))].sort());
    for (const b of expected) {
      const got = actual.get(b.digest);
      assert.ok(got?.equals(b.data), `blob ${b.digest} differs after the round trip`);
    }
  }

  /** `skopeo inspect` output (skopeo 1.9 has no LayersData). */
  async function inspect(...args: string[]): Promise<{ Name: string; Digest: string; RepoTags: string[]; Created: string; Architecture: string; Os: string; Layers: string[]; Env: string[] }> {
    return JSON.parse(await skopeo.run('inspect', '--tls-verify=false', ...args));
  }

  /** What inspect read from the image's manifest (layers) and config (platform, created, env). */
  function assertInspected(info: Awaited<ReturnType<typeof inspect>>, image: Image, architecture = 'amd64'): void {
    const config = JSON.parse(image.config.data.toString('utf8')) as { created: string; config: { Env: string[] } };
    assert.deepEqual(info.Layers, image.layers.map((l) => l.digest));
    assert.deepEqual([info.Os, info.Architecture], ['linux', architecture]);
    assert.equal(new Date(info.Created).toISOString(), config.created);
    assert.deepEqual(info.Env, config.config.Env);
  }

  async function assertManifestUnknown(name: string, reference: string): Promise<void> {
    const res = await client.fetch(`/v2/${name}/manifests/${reference}`);
    assert.equal(res.status, 404, `GET manifest ${name}:${reference} after delete`);
    assert.deepEqual(await errorCodes(res), ['MANIFEST_UNKNOWN']);
  }

  it('copies an OCI image (3 layers) in and back out byte for byte', async () => {
    const src = path.join(work, 'oci-src');
    await writeLayout(src, imageBlobs(oci), descriptor(oci.mediaType, oci.manifest), 'latest');
    await skopeo.run('copy', '--dest-tls-verify=false', '--preserve-digests', `oci:${src}:latest`, ref('e2e/oci-image:v1'));
    await assertStored('e2e/oci-image', 'v1', oci.manifest, oci.mediaType, [oci.config, ...oci.layers]);

    const out = path.join(work, 'oci-out');
    await skopeo.run('copy', '--src-tls-verify=false', '--preserve-digests', ref('e2e/oci-image:v1'), `oci:${out}:v1`);
    const layout = await readLayout(out);
    assert.deepEqual(layout.index.manifests.map((m) => [m.mediaType, m.digest]), [[oci.mediaType, oci.manifest.digest]]);
    assertSameBlobs(layout.blobs, imageBlobs(oci));
  });

  it('copies a Docker schema2 image (3 layers) in and back out byte for byte', async () => {
    const src = path.join(work, 'docker-src');
    // skopeo finds a Docker manifest in an OCI layout only as the layout's one, untagged, manifest.
    await writeLayout(src, imageBlobs(docker), descriptor(docker.mediaType, docker.manifest));
    await skopeo.run('copy', '--dest-tls-verify=false', '--preserve-digests', `oci:${src}`, ref('e2e/docker-image:v1'));
    await assertStored('e2e/docker-image', 'v1', docker.manifest, MediaType.dockerManifest, [docker.config, ...docker.layers]);

    const out = path.join(work, 'docker-out');
    await skopeo.run('copy', '--src-tls-verify=false', '--preserve-digests', ref('e2e/docker-image:v1'), `dir:${out}`);
    const copy = await readDirCopy(out);
    assert.ok(copy.manifest.equals(docker.manifest.data), 'Docker manifest differs after the round trip');
    assertSameBlobs(copy.blobs, [docker.config, ...docker.layers]);
  });

  it('copies a two-platform index in with --all and back out byte for byte', async () => {
    const src = path.join(work, 'index-src');
    await writeLayout(src, indexBlobs(multi), descriptor(MediaType.ociIndex, multi.index), 'latest');
    await skopeo.run('copy', '--all', '--dest-tls-verify=false', '--preserve-digests', `oci:${src}:latest`, ref('e2e/multi-arch:v1'));
    await assertStored('e2e/multi-arch', 'v1', multi.index, MediaType.ociIndex, []);
    for (const image of multi.images) {
      await assertStored('e2e/multi-arch', image.manifest.digest, image.manifest, image.mediaType, [image.config, ...image.layers]);
    }

    const out = path.join(work, 'index-out');
    await skopeo.run('copy', '--all', '--src-tls-verify=false', '--preserve-digests', ref('e2e/multi-arch:v1'), `oci:${out}:v1`);
    const layout = await readLayout(out);
    assert.deepEqual(layout.index.manifests.map((m) => [m.mediaType, m.digest]), [[MediaType.ociIndex, multi.index.digest]]);
    assertSameBlobs(layout.blobs, indexBlobs(multi));
  });

  it('inspects each image: digest, platform and layers', async () => {
    const ociInfo = await inspect(ref('e2e/oci-image:v1'));
    assert.equal(ociInfo.Name, `${host}/e2e/oci-image`);
    assert.equal(ociInfo.Digest, oci.manifest.digest);
    assert.deepEqual(ociInfo.RepoTags, ['v1']);
    assertInspected(ociInfo, oci);
    assert.equal(await skopeo.run('inspect', '--tls-verify=false', '--raw', ref('e2e/oci-image:v1')), oci.manifest.data.toString('utf8'));
    assert.equal(await skopeo.run('inspect', '--tls-verify=false', '--raw', '--config', ref('e2e/oci-image:v1')), oci.config.data.toString('utf8'));

    const dockerInfo = await inspect(ref('e2e/docker-image:v1'));
    assert.equal(dockerInfo.Digest, docker.manifest.digest);
    assertInspected(dockerInfo, docker);

    assert.equal(await skopeo.run('inspect', '--tls-verify=false', '--raw', ref('e2e/multi-arch:v1')), multi.index.data.toString('utf8'));
    for (const [i, arch] of ['amd64', 'arm64'].entries()) {
      const image = multi.images[i]!;
      const info = await inspect('--override-os', 'linux', '--override-arch', arch, ref('e2e/multi-arch:v1'));
      assert.equal(info.Digest, multi.index.digest);
      assertInspected(info, image, arch);
      const byDigest = await inspect(ref(`e2e/multi-arch@${image.manifest.digest}`));
      assert.equal(byDigest.Digest, image.manifest.digest);
      assertInspected(byDigest, image, arch);
    }
  });

  it('lists tags after a registry-to-registry copy adds one', async () => {
    await skopeo.run('copy', '--src-tls-verify=false', '--dest-tls-verify=false', '--preserve-digests', ref('e2e/oci-image:v1'), ref('e2e/oci-image:v2'));
    // Into another repository: skopeo may mount the blobs from e2e/oci-image instead of uploading.
    await skopeo.run('copy', '--src-tls-verify=false', '--dest-tls-verify=false', '--preserve-digests', ref('e2e/oci-image:v1'), ref('e2e/oci-copy:v1'));
    await assertStored('e2e/oci-copy', 'v1', oci.manifest, oci.mediaType, [oci.config, ...oci.layers]);

    const listed = JSON.parse(await skopeo.run('list-tags', '--tls-verify=false', ref('e2e/oci-image')));
    assert.deepEqual(listed, { Repository: `${host}/e2e/oci-image`, Tags: ['v1', 'v2'] });
    const res = await client.fetch('/v2/e2e/oci-image/tags/list');
    assert.equal(res.status, 200);
    assert.deepEqual(await res.json(), { name: 'e2e/oci-image', tags: ['v1', 'v2'] });
    for (const name of ['e2e/docker-image', 'e2e/multi-arch', 'e2e/oci-copy']) {
      assert.deepEqual(JSON.parse(await skopeo.run('list-tags', '--tls-verify=false', ref(name))).Tags, ['v1']);
    }
  });

  it('deletes manifests: by tag (every tag of it goes) and by digest', async () => {
    await skopeo.run('delete', '--tls-verify=false', ref('e2e/oci-image:v2'));
    await assertManifestUnknown('e2e/oci-image', oci.manifest.digest);
    await assertManifestUnknown('e2e/oci-image', 'v1');
    await assertManifestUnknown('e2e/oci-image', 'v2');
    assert.deepEqual(JSON.parse(await skopeo.run('list-tags', '--tls-verify=false', ref('e2e/oci-image'))).Tags, []);
    await assert.rejects(skopeo.run('inspect', '--tls-verify=false', ref('e2e/oci-image:v1')));
    // The same manifest in another repository is untouched.
    await assertStored('e2e/oci-copy', 'v1', oci.manifest, oci.mediaType, [oci.config, ...oci.layers]);

    await skopeo.run('delete', '--tls-verify=false', ref(`e2e/docker-image@${docker.manifest.digest}`));
    await assertManifestUnknown('e2e/docker-image', docker.manifest.digest);
    await assertManifestUnknown('e2e/docker-image', 'v1');

    await skopeo.run('delete', '--tls-verify=false', ref(`e2e/multi-arch@${multi.index.digest}`));
    await assertManifestUnknown('e2e/multi-arch', multi.index.digest);
    await assertManifestUnknown('e2e/multi-arch', 'v1');
    // Deleting an index leaves its platform manifests, as in Distribution.
    for (const image of multi.images) {
      await assertStored('e2e/multi-arch', image.manifest.digest, image.manifest, image.mediaType, [image.config, ...image.layers]);
    }
  });
});
