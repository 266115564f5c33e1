import assert from 'node:assert/strict';
import { readFile, rm, stat } from 'node:fs/promises';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import {
  blob, buildImage, buildIndex, descriptor, imageBlobs, indexBlobs, MediaType, readDirCopy, readLayout, Skopeo, writeLayout,
} from '../e2e/skopeo-fixtures.ts';
import { assertServes, catalog, Distribution, get, pushBlob, tags, sharedRoot, withDockyard as withRoot } from './distribution.ts';

describe('the storage layout is Distribution 2.8.2\'s', { timeout: 600_000 }, () => {
  let work: string;
  let root: string;
  let skopeo: Skopeo;
  const oci = buildImage('oci', 3);
  const docker = buildImage('docker', 2);
  const multi = buildIndex();
  const mine = buildImage('oci', 2);
  const mineMulti = buildIndex();

  before(async () => {
    ({ work, root, skopeo } = await sharedRoot('dockyard-distribution-'));
  });

  after(async () => {
    if (work) await rm(work, { recursive: true, force: true });
  });

  const withDockyard = <T>(task: (url: string, host: string) => Promise<T>) => withRoot(root, task);

  async function withDistribution<T>(task: (url: string, host: string) => Promise<T>): Promise<T> {
    const d = await Distribution.start(work, root);
    try {
      return await task(d.url, d.host);
    } finally {
      await d.stop();
    }
  }

  it('serves what Distribution pushed (an OCI image, a Docker image, a two-platform index) byte for byte', async () => {
    await withDistribution(async (_url, host) => {
      const src = path.join(work, 'oci-src');
      await writeLayout(src, imageBlobs(oci), descriptor(oci.mediaType, oci.manifest), 'latest');
      await skopeo.run('copy', '--dest-tls-verify=false', '--preserve-digests', `oci:${src}:latest`, `docker://${host}/dist/oci:v1`);
      const dsrc = path.join(work, 'docker-src');
      await writeLayout(dsrc, imageBlobs(docker), descriptor(docker.mediaType, docker.manifest));
      await skopeo.run('copy', '--dest-tls-verify=false', '--preserve-digests', `oci:${dsrc}`, `docker://${host}/dist/docker:v1`);
      const msrc = path.join(work, 'multi-src');
      await writeLayout(msrc, indexBlobs(multi), descriptor(MediaType.ociIndex, multi.index), 'latest');
      await skopeo.run('copy', '--all', '--dest-tls-verify=false', '--preserve-digests', `oci:${msrc}:latest`, `docker://${host}/dist/multi:v1`);
    });
    // Distribution's files, where this layout puts them.
    const repo = path.join(root, 'docker/registry/v2/repositories/dist/oci');
    assert.equal(await readFile(path.join(repo, '_manifests/tags/v1/current/link'), 'utf8'), oci.manifest.digest);

    await withDockyard(async (url, host) => {
      assert.deepEqual(await catalog(url), ['dist/docker', 'dist/multi', 'dist/oci']);
      assert.deepEqual(await tags(url, 'dist/oci'), ['v1']);
      await assertServes(url, 'dist/oci', 'v1', oci.manifest, oci.mediaType, [oci.config, ...oci.layers]);
      await assertServes(url, 'dist/docker', 'v1', docker.manifest, MediaType.dockerManifest, [docker.config, ...docker.layers]);
      await assertServes(url, 'dist/multi', 'v1', multi.index, MediaType.ociIndex, []);
      for (const image of multi.images) {
        await assertServes(url, 'dist/multi', image.manifest.digest, image.manifest, image.mediaType, [image.config, ...image.layers]);
      }

      const out = path.join(work, 'from-dockyard');
      await skopeo.run('copy', '--src-tls-verify=false', '--preserve-digests', `docker://${host}/dist/docker:v1`, `dir:${out}`);
      const copy = await readDirCopy(out);
      assert.ok(copy.manifest.equals(docker.manifest.data));
      for (const b of [docker.config, ...docker.layers]) assert.ok(copy.blobs.get(b.digest)?.equals(b.data), `blob ${b.digest}`);

      const multiOut = path.join(work, 'multi-from-dockyard');
      await skopeo.run('copy', '--all', '--src-tls-verify=false', '--preserve-digests', `docker://${host}/dist/multi:v1`, `oci:${multiOut}:v1`);
      const layout = await readLayout(multiOut);
      for (const b of indexBlobs(multi)) assert.ok(layout.blobs.get(b.digest)?.equals(b.data), `blob ${b.digest}`);
    });
  });

  it('lists in its referrers API a manifest with a subject that Distribution stored (the index rebuilt)', async () => {
    const config = blob(Buffer.from('{}'));
    const layer = blob(Buffer.from(`signature ${Date.now()}`));
    const artifactType = 'application/vnd.dockyard.test.signature';
    const referrer = blob(Buffer.from(JSON.stringify({
      schemaVersion: 2,
      mediaType: MediaType.ociManifest,
      artifactType,
      config: descriptor('application/vnd.oci.empty.v1+json', config),
      layers: [descriptor('application/octet-stream', layer)],
      subject: descriptor(oci.mediaType, oci.manifest),
    })));
    await withDistribution(async (url) => {
      await pushBlob(url, 'dist/oci', config);
      await pushBlob(url, 'dist/oci', layer);
      const put = await fetch(`${url}/v2/dist/oci/manifests/${referrer.digest}`, {
        method: 'PUT', body: new Uint8Array(referrer.data), headers: { 'content-type': MediaType.ociManifest },
      });
      assert.equal(put.status, 201, `Distribution PUT manifest: ${await put.text()}`);
    });
    const marker = path.join(root, 'docker/registry/v2/repositories/dist/oci/_referrers/_complete');
    await assert.rejects(stat(marker), 'Distribution wrote no referrers index');

    await withDockyard(async (url) => {
      const res = await get(url, `/v2/dist/oci/referrers/${oci.manifest.digest}`);
      assert.equal(res.status, 200, res.body.toString('utf8'));
      const index = JSON.parse(res.body.toString('utf8')) as { manifests: { digest: string; mediaType: string; artifactType?: string; size: number }[] };
      assert.deepEqual(index.manifests.map((m) => [m.digest, m.mediaType, m.artifactType, m.size]), [
        [referrer.digest, MediaType.ociManifest, artifactType, referrer.data.length],
      ]);
    });
    await stat(marker); // built once, remembered
  });

  it('is served by Distribution after Dockyard pushed (an image and an index), with its catalog listing them', async () => {
    await withDockyard(async (_url, host) => {
      const src = path.join(work, 'mine-src');
      await writeLayout(src, imageBlobs(mine), descriptor(mine.mediaType, mine.manifest), 'latest');
      await skopeo.run('copy', '--dest-tls-verify=false', '--preserve-digests', `oci:${src}:latest`, `docker://${host}/dockyard/app:v1`);
      const msrc = path.join(work, 'mine-multi-src');
      await writeLayout(msrc, indexBlobs(mineMulti), descriptor(MediaType.ociIndex, mineMulti.index), 'latest');
      await skopeo.run('copy', '--all', '--dest-tls-verify=false', '--preserve-digests', `oci:${msrc}:latest`, `docker://${host}/dockyard/multi:v1`);
    });
    // Links hold the digest alone, as Distribution writes them; the tag has its index entry.
    const repo = path.join(root, 'docker/registry/v2/repositories/dockyard/app');
    const hex = mine.manifest.digest.slice('sha256:'.length);
    assert.equal(await readFile(path.join(repo, `_manifests/revisions/sha256/${hex}/link`), 'utf8'), mine.manifest.digest);
    assert.equal(await readFile(path.join(repo, `_manifests/tags/v1/index/sha256/${hex}/link`), 'utf8'), mine.manifest.digest);

    await withDistribution(async (url, host) => {
      assert.ok((await catalog(url)).includes('dockyard/app'));
      assert.ok((await catalog(url)).includes('dockyard/multi'));
      assert.deepEqual(await tags(url, 'dockyard/app'), ['v1']);
      await assertServes(url, 'dockyard/app', 'v1', mine.manifest, mine.mediaType, [mine.config, ...mine.layers]);
      await assertServes(url, 'dockyard/multi', 'v1', mineMulti.index, MediaType.ociIndex, []);
      for (const image of mineMulti.images) {
        await assertServes(url, 'dockyard/multi', image.manifest.digest, image.manifest, image.mediaType, [image.config, ...image.layers]);
      }
      const out = path.join(work, 'from-distribution');
      await skopeo.run('copy', '--src-tls-verify=false', '--preserve-digests', `docker://${host}/dockyard/app:v1`, `oci:${out}:v1`);
      const layout = await readLayout(out);
      for (const b of imageBlobs(mine)) assert.ok(layout.blobs.get(b.digest)?.equals(b.data), `blob ${b.digest}`);
    });
  });

  it('leaves a tag Dockyard deleted out of Distribution\'s tags list, and a manifest it deleted unknown', async () => {
    await withDockyard(async (url) => {
      // A second tag on the same manifest, so that deleting one leaves the other.
      const put = await fetch(`${url}/v2/dockyard/app/manifests/v2`, { method: 'PUT', body: new Uint8Array(mine.manifest.data), headers: { 'content-type': mine.mediaType } });
      assert.equal(put.status, 201);
      const del = await fetch(`${url}/v2/dockyard/app/manifests/v1`, { method: 'DELETE' });
      assert.equal(del.status, 202);
      const gone = await fetch(`${url}/v2/dist/docker/manifests/${docker.manifest.digest}`, { method: 'DELETE' });
      assert.equal(gone.status, 202);
    });
    await withDistribution(async (url) => {
      assert.deepEqual(await tags(url, 'dockyard/app'), ['v2']);
      await assertServes(url, 'dockyard/app', 'v2', mine.manifest, mine.mediaType, []);
      assert.equal((await get(url, '/v2/dockyard/app/manifests/v1', mine.mediaType)).status, 404);
      assert.deepEqual(await tags(url, 'dist/docker'), []);
      assert.equal((await get(url, `/v2/dist/docker/manifests/${docker.manifest.digest}`, MediaType.dockerManifest)).status, 404);
    });
  });
});
