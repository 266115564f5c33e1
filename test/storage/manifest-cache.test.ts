import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { Readable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { Registry as MetricsRegistry } from 'prom-client';
import { parseDigest, type Digest } from '../../src/oci/digest.ts';
import { RegistryError } from '../../src/oci/errors.ts';
import { parseRepoName, parseTag } from '../../src/oci/names.ts';
import { FilesystemDriver } from '../../src/storage/filesystem-driver.ts';
import { ManifestCache } from '../../src/storage/manifest-cache.ts';
import { MeteredDriver, storageActionSeconds } from '../../src/storage/metered-driver.ts';
import { StorageRegistry } from '../../src/storage/storage-registry.ts';
import { ociImage } from '../helpers/oci.ts';

const name = parseRepoName('cache/app');
const v1 = parseTag('v1');

/** Storage calls by action so far, from the registry's own storage metrics. */
async function calls(metrics: MetricsRegistry): Promise<Record<string, number>> {
  const json = await metrics.getMetricsAsJSON();
  const histogram = json.find((m) => m.name === 'registry_storage_action_seconds');
  const out: Record<string, number> = {};
  for (const v of (histogram?.values ?? []) as { metricName?: string; labels: Record<string, string | number>; value: number }[]) {
    if (v.metricName?.endsWith('_count')) out[String(v.labels.action)] = v.value;
  }
  return out;
}

describe('the manifest cache keeps what a digest names, never whether it is there', () => {
  let root: string;
  let metrics: MetricsRegistry;
  /** The registry under test, with its cache. */
  let served: StorageRegistry;
  /** Another process on the same root (a replica, `dockyard gc`): nothing it does reaches the cache. */
  const other = () => new StorageRegistry(new FilesystemDriver(root));

  async function push(registry: StorageRegistry, image: ReturnType<typeof ociImage>, tag = v1): Promise<Digest> {
    const repo = registry.repository(name);
    for (const b of [image.config, ...image.layers]) {
      const upload = await repo.uploads.start();
      await repo.uploads.complete(upload.id, parseDigest(b.digest), Readable.from([b.data]), {});
    }
    return (await repo.manifests.put({ tag }, image.manifest, image.mediaType)).digest;
  }

  before(async () => {
    root = await mkdtemp(path.join(tmpdir(), 'dockyard-manifest-cache-'));
    metrics = new MetricsRegistry();
    served = new StorageRegistry(new MeteredDriver(new FilesystemDriver(root), storageActionSeconds(metrics)));
  });
  after(() => rm(root, { recursive: true, force: true }));

  it('serves a HEAD and a GET by tag reading only the tag link, and checking the revision and bytes are there', async () => {
    const image = ociImage();
    const digest = await push(other(), image);
    const repo = served.repository(name);
    assert.deepEqual((await repo.manifests.get({ tag: v1 })).content, image.manifest); // the first read fills the cache
    const before = await calls(metrics);
    await repo.manifests.stat({ tag: v1 });
    const got = await repo.manifests.get({ tag: v1 });
    assert.equal(got.digest, digest);
    assert.deepEqual(got.content, image.manifest);
    const after = await calls(metrics);
    assert.equal((after.GetContent ?? 0) - (before.GetContent ?? 0), 2, 'one read per request: the tag link');
    assert.equal((after.Stat ?? 0) - (before.Stat ?? 0), 4, 'two stats per request: the revision link and the bytes');
  });

  it('answers MANIFEST_UNKNOWN for a cached manifest another process deleted, by digest and by tag', async () => {
    const image = ociImage();
    const digest = await push(served, image, parseTag('gone'));
    const repo = served.repository(name);
    await repo.manifests.get({ digest });
    await other().repository(name).manifests.delete(digest);
    for (const reference of [{ digest }, { tag: parseTag('gone') }]) {
      await assert.rejects(repo.manifests.stat(reference), (err: unknown) => err instanceof RegistryError && err.code === 'MANIFEST_UNKNOWN');
      await assert.rejects(repo.manifests.get(reference), (err: unknown) => err instanceof RegistryError && err.code === 'MANIFEST_UNKNOWN');
    }
  });

  it('follows a tag another process moved', async () => {
    const first = await push(served, ociImage(), parseTag('moving'));
    const repo = served.repository(name);
    assert.equal((await repo.manifests.get({ tag: parseTag('moving') })).digest, first);
    const image = ociImage();
    const second = await push(other(), image, parseTag('moving'));
    const got = await repo.manifests.get({ tag: parseTag('moving') });
    assert.equal(got.digest, second);
    assert.deepEqual(got.content, image.manifest);
  });
});

describe('ManifestCache bounds', () => {
  const d = (n: number) => `sha256:${String(n).padStart(64, '0')}` as Digest;

  it('drops the oldest bytes past its byte budget, and never keeps a manifest over the per-manifest limit', () => {
    const cache = new ManifestCache({ maxEntries: 100, maxBytes: 10, maxManifestBytes: 6 });
    cache.set(d(1), 'm', Buffer.alloc(5));
    cache.set(d(2), 'm', Buffer.alloc(5));
    cache.set(d(3), 'm', Buffer.alloc(5));
    assert.equal(cache.content(d(1)), undefined);
    assert.equal(cache.content(d(2))?.length, 5);
    assert.equal(cache.content(d(3))?.length, 5);
    cache.set(d(4), 'm', Buffer.alloc(7));
    assert.equal(cache.content(d(4)), undefined);
    assert.equal(cache.mediaType(d(4)), 'm', 'the media type is kept without the bytes');
  });

  it('keeps at most maxEntries digests and revision links', () => {
    const cache = new ManifestCache({ maxEntries: 2, maxBytes: 1000, maxManifestBytes: 100 });
    for (let i = 1; i <= 3; i++) {
      cache.set(d(i), 'm');
      cache.setRevisionLink(name, d(i), {});
    }
    assert.equal(cache.mediaType(d(1)), undefined);
    assert.equal(cache.revisionLink(name, d(1)), undefined);
    assert.equal(cache.mediaType(d(3)), 'm');
    assert.deepEqual(cache.revisionLink(name, d(3)), {});
  });
});
