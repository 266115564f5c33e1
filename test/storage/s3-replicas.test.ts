import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { hostname, tmpdir } from 'node:os';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Event } from '../../src/notify/event.ts';
import { ChildRegistry, freePort, writeConfig } from '../helpers/child-registry.ts';
import { withDigest } from '../helpers/client.ts';
import { ociImage, randomBlob, sha256, type ImageFixture } from '../helpers/oci.ts';
import { ok, WebhookReceiver } from '../helpers/receiver.ts';
import { startS3rver, type TestS3 } from '../helpers/s3rver.ts';
import { actions, assertEnvelopes, drained, endpoint, NotifyClient } from '../notify/support.ts';

const MiB = 1024 * 1024;

/**
 * Two registry processes on one S3 bucket (s3rver in this process, the registries as child
 * processes with their own outboxes), one webhook receiver for both: what one replica writes the
 * other serves, an upload one started the other completes, a delete on either is seen by both,
 * and each replica reports its own operations once, under its own instance id.
 */
describe('two registry processes sharing one S3 bucket', { timeout: 120_000 }, () => {
  const started = Date.now();
  const root = `replicas-${randomUUID()}`;
  let s3: TestS3;
  let receiver: WebhookReceiver;
  let work: string;
  let a: ChildRegistry;
  let b: ChildRegistry;
  let portA: number;
  let portB: number;

  const repo = 'replicas/app';
  const chunkedRepo = 'replicas/chunked';
  const tag = 'v1';
  let image: ImageFixture;
  const chunked = randomBlob(6 * MiB + 17);

  /** A config file for one replica: own port and outbox, the shared bucket and root. */
  async function replica(name: string): Promise<{ file: string; port: number }> {
    const port = await freePort();
    const dir = path.join(work, name);
    await mkdir(dir, { recursive: true });
    const file = await writeConfig(work, {
      version: 0.1,
      log: { level: 'error' },
      http: { addr: `127.0.0.1:${port}` },
      storage: { s3: s3.storageConfig(root), delete: { enabled: true }, redirect: { disable: true } },
      notifications: { endpoints: [endpoint(receiver)], outbox: { path: path.join(dir, 'outbox.sqlite') } },
    }, `${name}.yml`);
    return { file, port };
  }

  before(async () => {
    work = await mkdtemp(path.join(tmpdir(), 'dockyard-s3-replicas-'));
    s3 = await startS3rver();
    receiver = await WebhookReceiver.start(ok);
    const [ca, cb] = [await replica('a'), await replica('b')];
    portA = ca.port;
    portB = cb.port;
    [a, b] = await Promise.all([ChildRegistry.start(ca.file, ca.port), ChildRegistry.start(cb.file, cb.port)]);
  });
  after(async () => {
    await a?.kill();
    await b?.kill();
    await receiver?.close();
    await s3?.stop();
    if (work) await rm(work, { recursive: true, force: true });
  });

  it('serves on B an image pushed with a tag through A: catalog, tags, manifest and blobs', async () => {
    image = await new NotifyClient(a.url).pushImage(repo, tag, ociImage({ layers: 2 }));
    const pull = new NotifyClient(b.url);
    const catalog = await pull.fetch('/v2/_catalog');
    assert.equal(catalog.status, 200);
    assert.deepEqual(((await catalog.json()) as { repositories: string[] }).repositories, [repo]);
    const tags = await pull.fetch(`/v2/${repo}/tags/list`);
    assert.equal(tags.status, 200);
    assert.deepEqual(await tags.json(), { name: repo, tags: [tag] });
    const manifest = await pull.fetch(`/v2/${repo}/manifests/${tag}`, { headers: { accept: image.mediaType } });
    assert.equal(manifest.status, 200, b.log);
    const body = Buffer.from(await manifest.arrayBuffer());
    assert.ok(body.equals(image.manifest), 'B serves the manifest byte for byte');
    assert.equal(sha256(body), image.digest);
    assert.equal(manifest.headers.get('docker-content-digest'), image.digest);
    for (const blob of [image.config, ...image.layers]) {
      const res = await pull.fetch(`/v2/${repo}/blobs/${blob.digest}`);
      assert.equal(res.status, 200);
      assert.equal(sha256(Buffer.from(await res.arrayBuffer())), blob.digest);
    }
  });

  it('completes on B a chunked upload started on A, at the Location A gave', async () => {
    const ca = new NotifyClient(a.url);
    const cb = new NotifyClient(b.url);
    const location = await ca.startUpload(chunkedRepo);
    const first = await ca.patchChunk(location, chunked.data.subarray(0, 5 * MiB), 0);
    assert.equal(first.status, 202, await first.clone().text());
    assert.equal(first.headers.get('range'), `0-${5 * MiB - 1}`);
    const at = first.headers.get('location')!;
    assert.ok(at.startsWith('/'), `a path: ${at}`);
    const second = await cb.patchChunk(at, chunked.data.subarray(5 * MiB), 5 * MiB);
    assert.equal(second.status, 202, await second.clone().text());
    const done = await cb.fetch(withDigest(second.headers.get('location')!, chunked.digest), { method: 'PUT' });
    assert.equal(done.status, 201, await done.clone().text());
    assert.equal(done.headers.get('docker-content-digest'), chunked.digest);
    const res = await ca.fetch(`/v2/${chunkedRepo}/blobs/${chunked.digest}`);
    assert.equal(res.status, 200);
    assert.equal(sha256(Buffer.from(await res.arrayBuffer())), chunked.digest);
  });

  it('sees on A a tag deleted through B, and on B a manifest deleted through A', async () => {
    const ca = new NotifyClient(a.url);
    const cb = new NotifyClient(b.url);
    const untag = await cb.fetch(`/v2/${repo}/manifests/${tag}`, { method: 'DELETE' });
    assert.equal(untag.status, 202, await untag.clone().text());
    const byTag = await ca.fetch(`/v2/${repo}/manifests/${tag}`, { headers: { accept: image.mediaType } });
    await byTag.arrayBuffer();
    assert.equal(byTag.status, 404, 'A no longer finds the tag B deleted');
    // The manifest itself is still there, by digest, on both.
    const still = await ca.fetch(`/v2/${repo}/manifests/${image.digest}`, { method: 'HEAD', headers: { accept: image.mediaType } });
    assert.equal(still.status, 200);

    const del = await ca.fetch(`/v2/${repo}/manifests/${image.digest}`, { method: 'DELETE' });
    assert.equal(del.status, 202, await del.clone().text());
    const gone = await cb.fetch(`/v2/${repo}/manifests/${image.digest}`, { headers: { accept: image.mediaType } });
    await gone.arrayBuffer();
    assert.equal(gone.status, 404, 'B no longer finds the manifest A deleted');
  });

  it('delivers each replica’s events once, under its own instance id', async (t) => {
    await Promise.all([drained(a, 'hook', 15_000), drained(b, 'hook', 15_000)]);
    const all = assertEnvelopes(receiver);
    const hostA = `127.0.0.1:${portA}`;
    const hostB = `127.0.0.1:${portB}`;
    const fromA = all.filter((e) => e.request.host === hostA);
    const fromB = all.filter((e) => e.request.host === hostB);
    assert.equal(fromA.length + fromB.length, all.length, `every event names A or B as its host: ${actions(all).join('; ')}`);

    // Each event is delivered once: no replica delivers the other's events, nor its own twice.
    const seen = new Map<string, number>();
    for (const e of all) seen.set(e.id, (seen.get(e.id) ?? 0) + 1);
    const duplicates = [...seen.values()].filter((n) => n > 1).reduce((s, n) => s + n - 1, 0);
    t.diagnostic(`events: ${all.length} (A ${fromA.length}, B ${fromB.length}), duplicates ${duplicates}, deliveries ${receiver.requests.length}, elapsed ${Date.now() - started} ms`);
    assert.equal(duplicates, 0, `duplicate event ids: ${[...seen].filter(([, n]) => n > 1).map(([id, n]) => `${id}×${n}`).join(', ')}`);

    // One instance id per process, different between them, and the source address names the replica.
    const idsA = new Set(fromA.map((e) => e.source.instanceID));
    const idsB = new Set(fromB.map((e) => e.source.instanceID));
    assert.equal(idsA.size, 1, `A's events carry one instance id: ${[...idsA].join(', ')}`);
    assert.equal(idsB.size, 1, `B's events carry one instance id: ${[...idsB].join(', ')}`);
    assert.notEqual([...idsA][0], [...idsB][0], 'A and B have different instance ids');
    for (const e of fromA) assert.equal(e.source.addr, `${hostname()}:${portA}`);
    for (const e of fromB) assert.equal(e.source.addr, `${hostname()}:${portB}`);

    const is = (action: string, digest?: string, tagged?: string) => (e: Event) =>
      e.action === action && (digest === undefined || e.target.digest === digest) && (tagged === undefined || e.target.tag === tagged);
    const only = (events: Event[], pred: (e: Event) => boolean, what: string): Event => {
      const found = events.filter(pred);
      assert.equal(found.length, 1, `${what}: ${actions(all).join('; ')}`);
      return found[0]!;
    };

    // Step 1: the pushes through A, from A only.
    for (const blob of [image.config, ...image.layers]) {
      only(fromA, (e) => is('push', blob.digest)(e) && e.target.repository === repo, `A's push of blob ${blob.digest}`);
      assert.equal(fromB.filter(is('push', blob.digest)).length, 0, 'B reports no push of A');
    }
    const pushed = only(fromA, is('push', image.digest), "A's manifest push");
    assert.equal(pushed.target.tag, tag);
    assert.equal(pushed.target.repository, repo);
    assert.equal(fromB.filter(is('push', image.digest)).length, 0, 'B reports no push of the manifest');

    // Step 1: the pulls on B, from B only.
    only(fromB, (e) => is('pull', image.digest)(e) && e.target.repository === repo, "B's pull of the manifest");
    for (const blob of [image.config, ...image.layers]) {
      only(fromB, (e) => is('pull', blob.digest)(e) && e.target.repository === repo, `B's pull of blob ${blob.digest}`);
    }
    assert.equal(fromA.filter((e) => e.action === 'pull' && e.target.repository === repo).length, 0, 'A pulled nothing of the image');

    // Step 2: the blob push completed on B, reported by B; A reports only its read back.
    const chunkPush = only(fromB, is('push', chunked.digest), "B's push of the chunked blob");
    assert.equal(chunkPush.target.repository, chunkedRepo);
    assert.equal(chunkPush.target.size, chunked.data.length);
    assert.equal(chunkPush.request.method, 'PUT');
    assert.equal(fromA.filter(is('push', chunked.digest)).length, 0, 'A reports no push of the chunked blob');
    only(fromA, is('pull', chunked.digest), "A's pull of the chunked blob");

    // Step 3: the tag delete from B, the manifest delete from A.
    const untagged = only(fromB, (e) => e.action === 'delete' && e.target.tag === tag && e.target.digest === undefined, "B's tag delete");
    assert.equal(untagged.target.repository, repo);
    assert.equal(untagged.request.method, 'DELETE');
    const deleted = only(fromA, is('delete', image.digest), "A's manifest delete");
    assert.equal(deleted.target.repository, repo);
    assert.equal(fromA.filter((e) => e.action === 'delete' && e.target.digest === undefined).length, 0, 'A reports no tag delete');
    assert.equal(fromB.filter((e) => e.action === 'delete' && e.target.digest !== undefined).length, 0, 'B reports no manifest delete');

    // Nothing else was reported.
    assert.equal(all.length, 4 + 4 + 2 + 2, `every event accounted for: ${actions(all).join('; ')}`);
  });
});
