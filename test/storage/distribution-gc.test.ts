import assert from 'node:assert/strict';
import { mkdtemp, readdir, rm, stat } from 'node:fs/promises';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import {
  blob, buildImage, buildIndex, descriptor, imageBlobs, indexBlobs, MediaType, readLayout, Skopeo, writeLayout, type Blob, type Image,
} from '../e2e/skopeo-fixtures.ts';
import { assertServes, Distribution, get, pushBlob, tags, sharedRoot, withDockyard as withRoot } from './distribution.ts';

/**
 * Switching back: Dockyard wrote a root (tagged images, an index, a manifest with a subject
 * pushed by digest, a deleted manifest, an orphan blob, an upload in progress, its referrers
 * index), then CNCF Distribution 2.8.2's `garbage-collect` runs on it. It must finish, keep
 * every blob a live manifest references and take only what none does; then Distribution and
 * Dockyard both serve what is left, byte for byte.
 */
describe('Distribution 2.8.2\'s garbage-collect on a root Dockyard wrote', { timeout: 300_000 }, () => {
  let work: string;
  let root: string;
  let skopeo: Skopeo;
  const app = buildImage('oci', 2);
  const gone = buildImage('oci', 2);
  const multi = buildIndex();
  const orphan = blob(Buffer.from(`orphan ${Date.now()} ${Math.random()}`));
  const sigConfig = blob(Buffer.from('{}'));
  const sigLayer = blob(Buffer.from(`signature ${Date.now()} ${Math.random()}`));
  const artifactType = 'application/vnd.dockyard.test.signature';
  const referrer = blob(Buffer.from(JSON.stringify({
    schemaVersion: 2,
    mediaType: MediaType.ociManifest,
    artifactType,
    config: descriptor('application/vnd.oci.empty.v1+json', sigConfig),
    layers: [descriptor('application/octet-stream', sigLayer)],
    subject: descriptor(app.mediaType, app.manifest),
  })));
  const upload = Buffer.from('the first chunk of an upload still in progress');
  let uploadLocation = '';
  const uploadId = () => /\/uploads\/([0-9a-f-]{36})/.exec(uploadLocation)?.[1] ?? assert.fail(`no upload id in ${uploadLocation}`);

  const blobFile = (b: Blob) => {
    const hex = b.digest.slice('sha256:'.length);
    return path.join(root, 'docker/registry/v2/blobs/sha256', hex.slice(0, 2), hex, 'data');
  };
  const present = (b: Blob) => stat(blobFile(b)).then(() => true, () => false);
  const live = () => [...imageBlobs(app), ...indexBlobs(multi), referrer, sigConfig, sigLayer];

  const withDockyard = <T>(task: (url: string, host: string) => Promise<T>) => withRoot(root, task);

  async function skopeoPush(host: string, top: { blobs: Blob[]; mediaType: string; manifest: Blob }, ref: string, all = false): Promise<void> {
    const src = await mkdtemp(path.join(work, 'src-'));
    await writeLayout(src, top.blobs, descriptor(top.mediaType, top.manifest), 'latest');
    await skopeo.run('copy', ...(all ? ['--all'] : []), '--dest-tls-verify=false', '--preserve-digests', `oci:${src}:latest`, `docker://${host}/${ref}`);
  }
  const image = (i: Image) => ({ blobs: imageBlobs(i), mediaType: i.mediaType, manifest: i.manifest });

  before(async () => {
    ({ work, root, skopeo } = await sharedRoot('dockyard-distribution-gc-'));
    await withDockyard(async (url, host) => {
      await skopeoPush(host, image(app), 'gc/app:v1');
      await skopeoPush(host, image(gone), 'gc/app:old');
      await skopeoPush(host, { blobs: indexBlobs(multi), mediaType: MediaType.ociIndex, manifest: multi.index }, 'gc/multi:v1', true);
      await pushBlob(url, 'gc/app', sigConfig);
      await pushBlob(url, 'gc/app', sigLayer);
      const put = await fetch(`${url}/v2/gc/app/manifests/${referrer.digest}`, {
        method: 'PUT', body: new Uint8Array(referrer.data), headers: { 'content-type': MediaType.ociManifest },
      });
      assert.equal(put.status, 201, await put.text());
      const del = await fetch(`${url}/v2/gc/app/manifests/${gone.manifest.digest}`, { method: 'DELETE' });
      assert.equal(del.status, 202);
      await pushBlob(url, 'gc/orphan', orphan);
      const res = await get(url, `/v2/gc/app/referrers/${app.manifest.digest}`);
      assert.equal(res.status, 200);
      const started = await fetch(`${url}/v2/gc/app/blobs/uploads/`, { method: 'POST' });
      assert.equal(started.status, 202);
      const patch = await fetch(new URL(started.headers.get('location')!, url), {
        method: 'PATCH', body: new Uint8Array(upload), headers: { 'content-type': 'application/octet-stream', 'content-range': `0-${upload.length - 1}` },
      });
      assert.equal(patch.status, 202, await patch.text());
      uploadLocation = new URL(patch.headers.get('location')!, url).pathname + new URL(patch.headers.get('location')!, url).search;
    });
    // What Dockyard keeps that Distribution has no place for is on the root the collector sees.
    const repo = path.join(root, 'docker/registry/v2/repositories/gc/app');
    assert.ok((await readdir(repo)).includes('_referrers'));
    assert.ok((await readdir(path.join(repo, '_uploads', uploadId()))).includes('data'));
  });
  after(async () => {
    if (work) await rm(work, { recursive: true, force: true });
  });

  it('exits 0, keeps every blob a live manifest references and removes the deleted manifest\'s and the orphan', async () => {
    const gc = await Distribution.garbageCollect(work, root);
    assert.equal(gc.code, 0, gc.output);
    const missing = [];
    for (const b of live()) if (!(await present(b))) missing.push(b.digest);
    assert.deepEqual(missing, [], `blobs of live manifests removed:\n${gc.output}`);
    for (const b of [...imageBlobs(gone), orphan]) assert.equal(await present(b), false, `${b.digest} is referenced by nothing and should be collected`);
    // Upload sessions are not the collector's: Dockyard's state survives it.
    assert.ok((await readdir(path.join(root, 'docker/registry/v2/repositories/gc/app/_uploads', uploadId()))).includes('data'));
  });

  it('leaves what Distribution serves intact: skopeo copies the image and the index from it byte for byte', async () => {
    const d = await Distribution.start(work, root);
    try {
      assert.deepEqual(await tags(d.url, 'gc/app'), ['v1']);
      await assertServes(d.url, 'gc/app', 'v1', app.manifest, app.mediaType, [app.config, ...app.layers]);
      await assertServes(d.url, 'gc/app', referrer.digest, referrer, MediaType.ociManifest, [sigConfig, sigLayer]);
      const out = path.join(work, 'app-from-distribution');
      await skopeo.run('copy', '--src-tls-verify=false', '--preserve-digests', `docker://${d.host}/gc/app:v1`, `oci:${out}:v1`);
      const copied = await readLayout(out);
      for (const b of imageBlobs(app)) assert.ok(copied.blobs.get(b.digest)?.equals(b.data), `blob ${b.digest}`);
      const multiOut = path.join(work, 'multi-from-distribution');
      await skopeo.run('copy', '--all', '--src-tls-verify=false', '--preserve-digests', `docker://${d.host}/gc/multi:v1`, `oci:${multiOut}:v1`);
      const copiedMulti = await readLayout(multiOut);
      for (const b of indexBlobs(multi)) assert.ok(copiedMulti.blobs.get(b.digest)?.equals(b.data), `blob ${b.digest}`);
    } finally {
      await d.stop();
    }
  });

  it('leaves Dockyard serving it too: images, the referrer in the referrers API, the upload completed; collected blobs are 404', async () => {
    await withDockyard(async (url) => {
      await assertServes(url, 'gc/app', 'v1', app.manifest, app.mediaType, [app.config, ...app.layers]);
      await assertServes(url, 'gc/multi', 'v1', multi.index, MediaType.ociIndex, []);
      for (const i of multi.images) await assertServes(url, 'gc/multi', i.manifest.digest, i.manifest, i.mediaType, [i.config, ...i.layers]);
      const refs = await get(url, `/v2/gc/app/referrers/${app.manifest.digest}`);
      assert.equal(refs.status, 200);
      const index = JSON.parse(refs.body.toString('utf8')) as { manifests: { digest: string; artifactType?: string }[] };
      assert.deepEqual(index.manifests.map((m) => [m.digest, m.artifactType]), [[referrer.digest, artifactType]]);
      // The collector removed the data and left the layer link (2.8.2 does): a missing blob, not an error.
      for (const b of [gone.config, ...gone.layers]) assert.equal((await get(url, `/v2/gc/app/blobs/${b.digest}`)).status, 404, b.digest);
      assert.equal((await get(url, `/v2/gc/orphan/blobs/${orphan.digest}`)).status, 404);
      const rest = Buffer.from(' and the rest');
      const whole = blob(Buffer.concat([upload, rest]));
      const done = await fetch(`${url}${uploadLocation}${uploadLocation.includes('?') ? '&' : '?'}digest=${whole.digest}`, {
        method: 'PUT', body: new Uint8Array(rest), headers: { 'content-type': 'application/octet-stream' },
      });
      assert.equal(done.status, 201, await done.text());
      assert.ok((await get(url, `/v2/gc/app/blobs/${whole.digest}`)).body.equals(whole.data));
    });
  });

  it('with --delete-untagged exits 0 and keeps the tagged image whole; as 2.8.2 does anywhere, it takes untagged manifests, an index\'s platform manifests too', async () => {
    const gc = await Distribution.garbageCollect(work, root, '--delete-untagged');
    assert.equal(gc.code, 0, gc.output);
    for (const b of imageBlobs(app)) assert.ok(await present(b), `blob ${b.digest} of the tagged image removed:\n${gc.output}`);
    // distribution/distribution#3178 (fixed in 3.0 by #3822): 2.8.2 counts a manifest that only an
    // index names as untagged. The same happens on a root Distribution wrote itself, so this is
    // no layout question; the README's way back says not to use --delete-untagged with indexes.
    const eligible = [...gc.output.matchAll(/manifest eligible for deletion: (sha256:[0-9a-f]{64})/g)].map((m) => m[1]).sort();
    assert.deepEqual(eligible, [referrer.digest, ...multi.images.map((i) => i.manifest.digest)].sort());
    const d = await Distribution.start(work, root);
    try {
      await assertServes(d.url, 'gc/app', 'v1', app.manifest, app.mediaType, [app.config, ...app.layers]);
      assert.equal((await get(d.url, `/v2/gc/app/manifests/${referrer.digest}`, MediaType.ociManifest)).status, 404);
    } finally {
      await d.stop();
    }
    await withDockyard(async (url) => {
      await assertServes(url, 'gc/app', 'v1', app.manifest, app.mediaType, [app.config, ...app.layers]);
      assert.equal((await get(url, `/v2/gc/app/manifests/${referrer.digest}`, MediaType.ociManifest)).status, 404);
      for (const i of multi.images) assert.equal((await get(url, `/v2/gc/multi/manifests/${i.manifest.digest}`, i.mediaType)).status, 404);
      // The collected referrer is gone from the referrers API too, though only Dockyard indexes it.
      const refs = await get(url, `/v2/gc/app/referrers/${app.manifest.digest}`);
      assert.equal(refs.status, 200);
      const listed = JSON.parse(refs.body.toString('utf8')) as { manifests: unknown[] };
      assert.deepEqual(listed.manifests, [], 'no referrer that is not served');
    });
  });
});
