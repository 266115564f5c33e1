import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Event } from '../../src/notify/event.ts';
import { buildImage, buildIndex, descriptor, imageBlobs, indexBlobs, MediaType, readLayout, Skopeo, writeLayout, type Image } from '../e2e/skopeo-fixtures.ts';
import {
  actions, assertGoldenShape, assertRequest, blobTarget, received, resetBeforeEach, useWithReceiver,
} from './support.ts';

/**
 * The real `skopeo` client pushes, pulls, copies across repositories and deletes; the receiver
 * must get exactly the events Distribution would send (fewer where Distribution counts HEADs),
 * in Distribution's shape, with references on as in the golden samples.
 */
describe('events for a real skopeo push, pull, copy and delete', { timeout: 120_000 }, () => {
  const h = useWithReceiver({ notifications: { events: { includereferences: true } } });
  let skopeo: Skopeo;
  let work: string;
  let host: string;
  const image: Image = buildImage('oci', 2);
  const useragent = `skopeo/${/(\d+\.\d+\.\d+)/.exec(execFileSync('skopeo', ['--version'], { encoding: 'utf8' }))![1]}`;
  const blobs = [image.config, ...image.layers];

  before(async () => {
    work = await mkdtemp(path.join(tmpdir(), 'dockyard-notify-skopeo-'));
    skopeo = await Skopeo.create(path.join(work, 'skopeo'));
    await writeLayout(path.join(work, 'layout'), imageBlobs(image), descriptor(image.mediaType, image.manifest), 'v1');
    host = `127.0.0.1:${h.registry.port}`;
  });
  after(async () => {
    if (work) await rm(work, { recursive: true, force: true });
  });
  resetBeforeEach(h);

  const references = () => [
    { mediaType: 'application/vnd.oci.image.config.v1+json', size: image.config.data.length, digest: image.config.digest },
    ...image.layers.map((l) => ({ mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', size: l.data.length, digest: l.digest })),
  ];
  const manifestTarget = (repository: string, tag: string) => ({
    mediaType: image.mediaType,
    size: image.manifest.data.length,
    digest: image.manifest.digest,
    length: image.manifest.data.length,
    repository,
    url: `${h.registry.url}/v2/${repository}/manifests/${image.manifest.digest}`,
    tag,
    references: references(),
  });
  const byDigest = (a: Event, b: Event) => (a.target.digest ?? '').localeCompare(b.target.digest ?? '');
  const sortedBlobTargets = (repository: string, list = blobs) =>
    [...list].sort((a, b) => a.digest.localeCompare(b.digest)).map((b) => blobTarget(h.registry, repository, b));

  it('sends one push per uploaded blob, then one manifest push with tag and references', async () => {
    await skopeo.run('copy', '--dest-tls-verify=false', `oci:${path.join(work, 'layout')}:v1`, `docker://${host}/sko/app:v1`);
    const events = await received(h);
    assert.equal(events.length, 4, actions(events).join(', '));
    const blobEvents = events.slice(0, 3);
    assert.ok(blobEvents.every((e) => e.action === 'push'));
    assert.deepEqual([...blobEvents].sort(byDigest).map((e) => e.target), sortedBlobTargets('sko/app'));
    const m = events[3]!;
    assert.equal(m.action, 'push');
    assert.deepEqual(m.target, manifestTarget('sko/app', 'v1'));
    for (const e of events) assertRequest(e, h.registry, 'PUT', useragent);
    for (const e of blobEvents) assertGoldenShape(e, 'push-blob');
    assertGoldenShape(m, 'push-manifest');
    assert.equal(new Set(events.map((e) => e.source.instanceID)).size, 1);
  });

  it('sends only a manifest push when the same image is pushed under a second tag (its HEAD checks emit nothing)', async () => {
    await skopeo.run('copy', '--dest-tls-verify=false', `oci:${path.join(work, 'layout')}:v1`, `docker://${host}/sko/app:v2`);
    const events = await received(h);
    assert.deepEqual(events.map((e) => [e.action, e.target]), [['push', manifestTarget('sko/app', 'v2')]]);
  });

  it('sends one manifest pull with references and one pull per blob for a skopeo pull', async () => {
    const out = path.join(work, 'pulled');
    await skopeo.run('copy', '--src-tls-verify=false', `docker://${host}/sko/app:v1`, `oci:${out}:v1`);
    const { blobs: pulled } = await readLayout(out);
    assert.ok(pulled.get(image.manifest.digest)?.equals(image.manifest.data), 'the pulled manifest is the pushed one');
    const events = await received(h);
    assert.equal(events.length, 4, actions(events).join(', '));
    assert.ok(events.every((e) => e.action === 'pull'));
    assert.deepEqual(events[0]!.target, manifestTarget('sko/app', 'v1'));
    assertGoldenShape(events[0]!, 'pull-manifest');
    assert.deepEqual(events.slice(1).sort(byDigest).map((e) => e.target), sortedBlobTargets('sko/app'));
    for (const e of events.slice(1)) assertGoldenShape(e, 'pull-blob');
    for (const e of events) assertRequest(e, h.registry, 'GET', useragent);
  });

  it('sends a mount naming fromRepository for each layer skopeo mounts when copying to another repository', async () => {
    await skopeo.run('copy', '--src-tls-verify=false', '--dest-tls-verify=false', `docker://${host}/sko/app:v1`, `docker://${host}/sko/copy:v1`);
    const events = await received(h);
    const mounts = events.filter((e) => e.action === 'mount').sort(byDigest);
    assert.deepEqual(
      mounts.map((e) => e.target),
      sortedBlobTargets('sko/copy', image.layers).map((t) => ({ ...t, fromRepository: 'sko/app', url: t.url })),
      actions(events).join(', '),
    );
    for (const e of mounts) {
      assertGoldenShape(e, 'mount-blob');
      assertRequest(e, h.registry, 'POST', useragent);
    }
    // Whatever skopeo moved without a mount (the config) was pulled from the source and pushed to the copy.
    const unmounted = blobs.filter((b) => !mounts.some((m) => m.target.digest === b.digest));
    const expected = [
      `pull sko/app:v1@${image.manifest.digest.slice(7, 19)}`,
      ...unmounted.flatMap((b) => [`pull sko/app@${b.digest.slice(7, 19)}`, `push sko/copy@${b.digest.slice(7, 19)}`]),
      ...mounts.map((m) => `mount sko/copy@${m.target.digest!.slice(7, 19)}`),
      `push sko/copy:v1@${image.manifest.digest.slice(7, 19)}`,
    ].sort();
    assert.deepEqual(actions(events).sort(), expected);
    assert.equal(actions(events).at(-1), `push sko/copy:v1@${image.manifest.digest.slice(7, 19)}`, 'the manifest push comes last');
  });

  it('sends the lookup pull, one manifest delete and one tag delete per tag for a skopeo delete', async () => {
    await skopeo.run('delete', '--tls-verify=false', `docker://${host}/sko/app:v1`);
    const events = await received(h);
    assert.deepEqual(actions(events), [
      `pull sko/app:v1@${image.manifest.digest.slice(7, 19)}`,
      `delete sko/app@${image.manifest.digest.slice(7, 19)}`,
      'delete sko/app:v1',
      'delete sko/app:v2',
    ]);
    const [, del, tag1, tag2] = events as [Event, Event, Event, Event];
    assert.deepEqual(del.target, { mediaType: image.mediaType, digest: image.manifest.digest, repository: 'sko/app' });
    assertGoldenShape(del, 'delete-manifest', { extra: ['mediaType'] });
    assert.deepEqual([tag1.target, tag2.target], [{ repository: 'sko/app', tag: 'v1' }, { repository: 'sko/app', tag: 'v2' }]);
    for (const e of [tag1, tag2]) assertGoldenShape(e, 'delete-tag');
    for (const e of [del, tag1, tag2]) assertRequest(e, h.registry, 'DELETE', useragent);
    assert.equal(new Set([del, tag1, tag2].map((e) => e.request.id)).size, 1);
    const gone = await h.client.fetch('/v2/sko/app/manifests/v2');
    assert.equal(gone.status, 404);
  });

  it('sends, for a two-platform index pushed with --all, each child’s blobs and untagged manifest, then the tagged index', async () => {
    const multi = buildIndex();
    const dir = path.join(work, 'index-layout');
    await writeLayout(dir, indexBlobs(multi), descriptor(MediaType.ociIndex, multi.index), 'multi');
    await skopeo.run('copy', '--all', '--dest-tls-verify=false', `oci:${dir}:multi`, `docker://${host}/sko/multi:v1`);
    const events = await received(h);
    const short = (d: string) => d.slice(7, 19);
    assert.equal(events.length, 9, actions(events).join(', '));
    assert.ok(events.every((e) => e.action === 'push'));
    assert.deepEqual(actions(events).at(-1), `push sko/multi:v1@${short(multi.index.digest)}`, 'the index comes last');
    const index = events.at(-1)!;
    assert.equal(index.target.mediaType, MediaType.ociIndex);
    assert.deepEqual(index.target.references, multi.images.map((img) => ({ mediaType: img.mediaType, size: img.manifest.data.length, digest: img.manifest.digest })));
    for (const img of multi.images) {
      const at = events.findIndex((e) => e.target.digest === img.manifest.digest);
      assert.ok(at >= 0, `child ${short(img.manifest.digest)} was pushed`);
      assert.equal(events[at]!.target.tag, undefined, 'a child is pushed by digest');
      assert.equal(events[at]!.target.mediaType, img.mediaType);
      for (const b of [img.config, ...img.layers]) {
        const blobAt = events.findIndex((e) => e.target.digest === b.digest);
        assert.ok(blobAt >= 0 && blobAt < at, `blob ${short(b.digest)} is pushed before its manifest`);
      }
    }
  });
});

