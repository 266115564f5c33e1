import assert from 'node:assert/strict';
import { mkdir, readdir, rename, stat } from 'node:fs/promises';
import * as path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { collectGarbage, type GcOptions } from '../../src/storage/gc/garbage-collector.ts';
import { Client } from '../helpers/client.ts';
import { imageIndex, manifestDescriptor, ociImage, randomBlob, type ImageFixture } from '../helpers/oci.ts';
import { startTestRegistry, type TestRegistry } from '../helpers/registry.ts';
import { startS3rver, type TestS3 } from '../helpers/s3rver.ts';
import { aged, deleteManifest, logger, pullsCompletely, registryPerTest, status } from './gc-support.ts';

const GC: GcOptions = { dryRun: false, deleteUntagged: false, delayMs: 0 };

async function catalog(client: Client): Promise<string[]> {
  const res = await client.fetch('/v2/_catalog');
  return ((await res.json()) as { repositories: string[] }).repositories;
}

/** Every file under the root, with its size (directories too, as their path). */
async function tree(root: string): Promise<string[]> {
  const out: string[] = [];
  const walk = async (rel: string): Promise<void> => {
    for (const e of await readdir(path.join(root, rel), { withFileTypes: true })) {
      const child = path.join(rel, e.name);
      if (e.isDirectory()) {
        out.push(`${child}/`);
        await walk(child);
      } else out.push(`${child} ${(await stat(path.join(root, child))).size}`);
    }
  };
  await walk('docker');
  return out.sort();
}

const sizeOf = (image: ImageFixture): number =>
  image.manifest.length + image.config.data.length + image.layers.reduce((n, l) => n + l.data.length, 0);

describe('garbage collection', { timeout: 60_000 }, () => {
  const h = registryPerTest();
  let registry: TestRegistry;
  let client: Client;
  beforeEach(() => {
    ({ registry, client } = h);
  });

  const collect = async (options: Partial<GcOptions> = {}) => {
    await aged();
    return collectGarbage(registry.registry, { ...GC, ...options }, logger);
  };

  it('keeps a tagged image whole and removes an orphan blob and its link, counting its bytes', async () => {
    const app = await client.pushImage('app', 'v1', ociImage({ layers: 2 }));
    const orphan = randomBlob(777);
    assert.equal((await client.pushBlob('app', orphan.data, orphan.digest)).status, 201);
    const report = await collect();
    assert.equal(report.blobsRemoved, 1);
    assert.equal(report.bytesFreed, 777);
    assert.equal(report.layerLinksRemoved, 1);
    assert.equal(report.manifestsRemoved, 0);
    assert.equal(report.dryRun, false);
    assert.ok(report.durationMs >= 0);
    await pullsCompletely(client, 'app', 'v1');
    await pullsCompletely(client, 'app', app.digest);
    assert.equal(await status(client, `/v2/app/blobs/${orphan.digest}`, 'HEAD'), 404);
  });

  it("removes a deleted manifest's bytes, config and layers, and then its empty repository from the catalog", async () => {
    const gone = await client.pushImage('gone', 'v1');
    await client.pushImage('stays', 'v1');
    await deleteManifest(client, 'gone', gone.digest);
    assert.deepEqual(await catalog(client), ['gone', 'stays']);
    const report = await collect();
    assert.equal(report.blobsRemoved, 4); // manifest, config, two layers
    assert.equal(report.bytesFreed, sizeOf(gone));
    assert.equal(report.layerLinksRemoved, 3);
    assert.equal(report.repositoriesRemoved, 1);
    assert.deepEqual(await catalog(client), ['stays']);
    await pullsCompletely(client, 'stays', 'v1');
    const hex = gone.layers[0]!.digest.slice(7);
    await assert.rejects(stat(path.join(registry.root, 'docker/registry/v2/blobs/sha256', hex.slice(0, 2), hex, 'data')));
  });

  it('keeps a blob two repositories share while one of them still references it', async () => {
    const shared = ociImage({ layers: 1 });
    await client.pushImage('one', 'v1', shared);
    await client.pushImage('two', 'v1', shared);
    await deleteManifest(client, 'one', shared.digest);
    const report = await collect();
    assert.equal(report.blobsRemoved, 0);
    assert.equal(report.layerLinksRemoved, 2); // config and layer links of "one"
    await pullsCompletely(client, 'two', 'v1');
    assert.equal(await status(client, `/v2/one/blobs/${shared.layers[0]!.digest}`, 'HEAD'), 404);
  });

  it('keeps every revision without --delete-untagged, and with it removes only what no tag reaches', async () => {
    const amd = ociImage();
    const arm = ociImage();
    await client.pushImage('multi', amd.digest, amd);
    await client.pushImage('multi', arm.digest, arm);
    const index = imageIndex([manifestDescriptor(amd), manifestDescriptor(arm)]);
    assert.equal((await client.pushManifest('multi', 'latest', index.manifest, index.mediaType)).status, 201);
    const old = await client.pushImage('multi', 'old');
    // Retagged: "old" now names the index too, the image it named is untagged.
    assert.equal((await client.pushManifest('multi', 'old', index.manifest, index.mediaType)).status, 201);
    const sig = ociImage({ layers: 1, subject: manifestDescriptor(index), artifactType: 'application/vnd.dockyard.test.sig' });
    await client.pushImage('multi', sig.digest, sig); // an untagged referrer of the tagged index

    assert.equal((await collect()).manifestsRemoved, 0);
    await pullsCompletely(client, 'multi', old.digest);

    const report = await collect({ deleteUntagged: true });
    assert.equal(report.manifestsRemoved, 1);
    assert.equal(report.bytesFreed, sizeOf(old));
    assert.equal(await status(client, `/v2/multi/manifests/${old.digest}`, 'HEAD'), 404);
    await pullsCompletely(client, 'multi', 'latest'); // the index's untagged children stay
    await pullsCompletely(client, 'multi', sig.digest); // so does the referrer of a kept manifest
    const referrers = await client.fetch(`/v2/multi/referrers/${index.digest}`);
    assert.deepEqual(((await referrers.json()) as { manifests: { digest: string }[] }).manifests.map((m) => m.digest), [sig.digest]);
  });

  it('with --delete-untagged, removes a referrer together with its untagged subject', async () => {
    const subject = await client.pushImage('signed', 'v1');
    const sig = ociImage({ layers: 1, subject: manifestDescriptor(subject), artifactType: 'application/vnd.dockyard.test.sig' });
    await client.pushImage('signed', sig.digest, sig);
    assert.equal(await status(client, '/v2/signed/manifests/v1', 'DELETE'), 202); // the tag alone
    const report = await collect({ deleteUntagged: true });
    assert.equal(report.manifestsRemoved, 2);
    assert.equal(report.bytesFreed, sizeOf(subject) + sizeOf(sig));
    assert.equal(report.repositoriesRemoved, 1);
  });

  it('puts back first what an interrupted collection had moved aside', async () => {
    const image = await client.pushImage('crashed', 'v1');
    const hex = image.layers[0]!.digest.slice(7);
    const v2 = path.join(registry.root, 'docker/registry/v2');
    await mkdir(path.join(v2, '_gc/dead-run'), { recursive: true });
    await rename(path.join(v2, 'blobs/sha256', hex.slice(0, 2), hex, 'data'), path.join(v2, '_gc/dead-run', `sha256-${hex}`));
    assert.equal(await status(client, `/v2/crashed/blobs/${image.layers[0]!.digest}`), 404);
    const report = await collect();
    assert.equal(report.blobsRemoved, 0);
    await pullsCompletely(client, 'crashed', 'v1');
    assert.deepEqual(await readdir(path.join(v2, '_gc')), []);
  });

  it('keeps unreferenced blobs younger than the delay', async () => {
    const orphan = randomBlob(100);
    await client.pushBlob('young', orphan.data, orphan.digest);
    const report = await collect({ delayMs: 60_000 });
    assert.equal(report.blobsRemoved, 0);
    assert.equal(report.layerLinksRemoved, 0);
    assert.ok(report.kept.young >= 1);
    assert.equal(await status(client, `/v2/young/blobs/${orphan.digest}`, 'HEAD'), 200);
  });

  it('a dry run changes nothing and predicts what the run then removes', async () => {
    const gone = await client.pushImage('dry', 'v1');
    await client.pushImage('dry', 'v2');
    const orphan = randomBlob(300);
    await client.pushBlob('dry', orphan.data, orphan.digest);
    await deleteManifest(client, 'dry', gone.digest);
    assert.equal(await status(client, '/v2/dry/manifests/v2', 'DELETE'), 202);
    const before = await tree(registry.root);
    const dry = await collect({ dryRun: true, deleteUntagged: true });
    assert.deepEqual(await tree(registry.root), before);
    assert.equal(dry.dryRun, true);
    const real = await collect({ deleteUntagged: true });
    for (const key of ['blobsRemoved', 'bytesFreed', 'manifestsRemoved', 'layerLinksRemoved', 'repositoriesRemoved'] as const) {
      assert.equal(dry[key], real[key], key);
    }
    assert.equal(real.manifestsRemoved, 1);
    assert.equal(real.blobsRemoved, 9);
    assert.equal(real.repositoriesRemoved, 1);
  });
});

describe('garbage collection on S3 (s3rver)', { timeout: 60_000 }, () => {
  let s3: TestS3;
  let registry: TestRegistry;
  beforeEach(async () => {
    s3 = await startS3rver();
    registry = await startTestRegistry({ storage: { filesystem: undefined, s3: s3.storageConfig(`gc-${Date.now()}`), redirect: { disable: true } } });
  });
  afterEach(async () => {
    await registry.stop();
    await s3.stop();
  });

  it("removes a deleted image's blobs and links, keeps the live one, and the repository leaves the catalog", async () => {
    const client = new Client(registry.url);
    const live = await client.pushImage('live', 'v1');
    const gone = await client.pushImage('gone', 'v1', ociImage({ layers: 1 }));
    await deleteManifest(client, 'gone', gone.digest);
    await sleep(1_100); // S3's LastModified has whole seconds
    const report = await collectGarbage(registry.registry, GC, logger);
    assert.equal(report.blobsRemoved, 3);
    assert.equal(report.bytesFreed, sizeOf(gone));
    assert.equal(report.layerLinksRemoved, 2);
    assert.equal(report.repositoriesRemoved, 1);
    assert.deepEqual(await catalog(client), ['live']);
    await pullsCompletely(client, 'live', live.digest);
    assert.equal((await collectGarbage(registry.registry, GC, logger)).blobsRemoved, 0);
  });
});
