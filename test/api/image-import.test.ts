import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtemp, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Event } from '../../src/notify/event.ts';
import { buildImage, readDirCopy, Skopeo, tar } from '../e2e/skopeo-fixtures.ts';
import { basic, htpasswdAuth, makeUsers, removeUsers, type Users } from '../auth/service-support.ts';
import {
  expectAdminError, gunzip, makeSourceArchives, postImport, until, writeLayoutMissingBlob, writeLegacyDockerSave, writeNamedLayout, writeTamperedLayout,
  writeUnnamedPlatformsLayout, type SourceArchives,
} from '../helpers/image-archives.ts';
import { WebhookReceiver } from '../helpers/receiver.ts';
import { startTestRegistry, type TestRegistry } from '../helpers/registry.ts';
import { sha256 } from '../helpers/oci.ts';

/**
 * `POST /ui/import`: real archives (made by skopeo from images pushed to a source registry) are
 * uploaded as a browser form would upload them, into a registry with htpasswd auth (alice is the
 * admin) and one webhook endpoint on loopback.
 */
const MAX_SIZE = 256 * 1024;

const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';

describe('importing an image archive without a client (POST /ui/import)', { timeout: 60_000 }, () => {
  let work: string;
  let users: Users;
  let skopeo: Skopeo;
  let receiver: WebhookReceiver;
  let registry: TestRegistry;
  let src: SourceArchives;
  const alice = () => basic('alice', users.passwords.alice);
  const get = (p: string) => fetch(new URL(p, registry.url), { headers: { authorization: alice() } });
  const bytesOf = async (p: string) => {
    const res = await get(p);
    assert.equal(res.status, 200, `GET ${p}`);
    return Buffer.from(await res.arrayBuffer());
  };
  /** Push events of `repository` the receiver got (our GETs queue pulls), waiting until the manifest push tagged `tag` is among them. */
  const eventsUntilTag = async (repository: string, tag: string): Promise<Event[]> => {
    const mine = () => receiver.events().filter((e) => e.target.repository === repository && e.action === 'push');
    await receiver.until(() => mine().some((e) => e.target.tag === tag), 10_000, () => `no manifest push of ${repository}:${tag}`);
    return mine();
  };

  before(async () => {
    work = await mkdtemp(path.join(tmpdir(), 'dockyard-import-'));
    users = await makeUsers();
    skopeo = await Skopeo.create(path.join(work, 'skopeo'));
    src = await makeSourceArchives(work, skopeo);
    receiver = await WebhookReceiver.start();
    registry = await startTestRegistry({
      auth: htpasswdAuth(users.htpasswd),
      ui: { import: { maxsize: MAX_SIZE } },
      notifications: { endpoints: [{ name: 'hook', url: receiver.url(), timeout: '1s', backoff: '20ms', maxbackoff: '100ms' }] },
    });
  });
  after(async () => {
    await registry?.stop();
    await receiver?.close();
    await removeUsers(users);
    if (work) await rm(work, { recursive: true, force: true });
  });

  it('imports an OCI archive under its ref.name: the same manifest digest, every blob byte-identical', async () => {
    const res = await postImport(registry.url, { repository: 'imp/oci', archive: src.ociArchive }, alice());
    const body = (await res.json()) as Record<string, unknown>;
    assert.equal(res.status, 201, JSON.stringify(body));
    const { image } = src;
    const size = [image.config, ...image.layers].reduce((n, b) => n + b.data.length, 0);
    assert.deepEqual(body, {
      repository: 'imp/oci', tag: 'v1', digest: image.manifest.digest, mediaType: OCI_MANIFEST, format: 'oci-layout',
      blobsPushed: 3, bytesPushed: size, blobsPresent: 0, manifestsPushed: 1,
    });
    assert.deepEqual(await bytesOf('/v2/imp/oci/manifests/v1'), image.manifest.data);
    for (const blob of [image.config, ...image.layers]) assert.deepEqual(await bytesOf(`/v2/imp/oci/blobs/${blob.digest}`), blob.data);
  });

  it('queues ordinary push events for the import, the admin as actor: one per blob, then the tagged manifest', async () => {
    const events = await eventsUntilTag('imp/oci', 'v1');
    const { image } = src;
    assert.equal(events.length, 4, JSON.stringify(events.map((e) => e.target)));
    const blobs = [image.config, ...image.layers].sort((a, b) => a.digest.localeCompare(b.digest));
    assert.deepEqual(
      events.slice(0, 3).map((e) => e.target).sort((a, b) => (a.digest ?? '').localeCompare(b.digest ?? '')),
      blobs.map((b) => ({
        mediaType: 'application/octet-stream', size: b.data.length, digest: b.digest, length: b.data.length,
        repository: 'imp/oci', url: `${registry.url}/v2/imp/oci/blobs/${b.digest}`,
      })),
    );
    assert.deepEqual(
      { digest: events[3]!.target.digest, tag: events[3]!.target.tag, mediaType: events[3]!.target.mediaType },
      { digest: image.manifest.digest, tag: 'v1', mediaType: OCI_MANIFEST },
    );
    for (const e of events) {
      assert.equal(e.actor.name, 'alice');
      assert.equal(e.request.method, 'POST');
    }
  });

  it('imports the same archive again without uploading a blob twice: only the new tag is pushed', async () => {
    const res = await postImport(registry.url, { repository: 'imp/oci', tag: 'again', archive: src.ociArchive }, alice());
    const body = (await res.json()) as Record<string, unknown>;
    assert.equal(res.status, 201, JSON.stringify(body));
    assert.deepEqual([body.digest, body.blobsPushed, body.bytesPushed, body.blobsPresent, body.manifestsPushed], [src.image.manifest.digest, 0, 0, 3, 1]);
    const events = await eventsUntilTag('imp/oci', 'again');
    assert.deepEqual(events.slice(4).map((e) => [e.target.digest, e.target.tag]), [[src.image.manifest.digest, 'again']]);
  });

  it('imports a docker save tarball as an OCI manifest of its uncompressed layers, which skopeo pulls', async () => {
    const res = await postImport(registry.url, { repository: 'imp/docker', tag: 'd1', archive: src.dockerArchive }, alice());
    const body = (await res.json()) as { digest: string; tag: string; mediaType: string; format: string };
    assert.equal(res.status, 201, JSON.stringify(body));
    assert.deepEqual([body.tag, body.mediaType, body.format], ['d1', OCI_MANIFEST, 'docker-archive']);
    const manifest = JSON.parse((await bytesOf(`/v2/imp/docker/manifests/${body.digest}`)).toString()) as {
      config: { digest: string }; layers: { mediaType: string; digest: string }[];
    };
    assert.equal(manifest.config.digest, src.image.config.digest, 'the config is the source image config, byte for byte');
    const diffIds = (JSON.parse(src.image.config.data.toString()) as { rootfs: { diff_ids: string[] } }).rootfs.diff_ids;
    assert.deepEqual(manifest.layers.map((l) => [l.mediaType, l.digest]), diffIds.map((d) => ['application/vnd.oci.image.layer.v1.tar', d]));
    for (const [i, layer] of src.image.layers.entries()) {
      assert.deepEqual(await bytesOf(`/v2/imp/docker/blobs/${diffIds[i]}`), gunzip(layer.data));
    }
    const out = path.join(work, 'pulled-docker');
    await skopeo.run('copy', '--src-tls-verify=false', '--src-creds', `alice:${users.passwords.alice}`, `docker://127.0.0.1:${registry.port}/imp/docker:d1`, `dir:${out}`);
    const pulled = await readDirCopy(out);
    assert.equal(sha256(pulled.manifest), body.digest);
    const events = await eventsUntilTag('imp/docker', 'd1');
    assert.deepEqual(events.map((e) => e.target.tag ?? e.target.digest), [...events.slice(0, 3).map((e) => e.target.digest), 'd1']);
    assert.deepEqual(events.slice(0, 3).map((e) => e.target.digest).sort(), [src.image.config.digest, ...diffIds].sort());
  });

  it('imports a two-platform OCI archive: both images by digest, then the index under its tag', async () => {
    const res = await postImport(registry.url, { repository: 'imp/multi', archive: src.multiArchive }, alice());
    const body = (await res.json()) as { digest: string; tag: string; manifestsPushed: number; blobsPushed: number };
    assert.equal(res.status, 201, JSON.stringify(body));
    assert.deepEqual([body.digest, body.tag, body.manifestsPushed, body.blobsPushed], [src.index.index.digest, 'm1', 3, 6]);
    assert.deepEqual(await bytesOf('/v2/imp/multi/manifests/m1'), src.index.index.data);
    for (const child of src.index.images) assert.deepEqual(await bytesOf(`/v2/imp/multi/manifests/${child.manifest.digest}`), child.manifest.data);
    const manifests = (await eventsUntilTag('imp/multi', 'm1')).filter((e) => e.target.mediaType !== 'application/octet-stream');
    assert.deepEqual(manifests.map((e) => e.target.digest), [...src.index.images.map((i) => i.manifest.digest), src.index.index.digest]);
  });

  it('imports a gzip’d legacy docker save tarball (<id>/layer.tar), tagged from its RepoTags', async () => {
    const file = path.join(work, 'legacy.tar.gz');
    const legacy = await writeLegacyDockerSave(file, 'example.com/legacy/app:2.0');
    const res = await postImport(registry.url, { repository: 'imp/legacy', archive: file }, alice());
    const body = (await res.json()) as { tag: string; blobsPushed: number };
    assert.equal(res.status, 201, JSON.stringify(body));
    assert.deepEqual([body.tag, body.blobsPushed], ['2.0', 3]);
    for (const layer of legacy.layers) assert.deepEqual(await bytesOf(`/v2/imp/legacy/blobs/${sha256(layer)}`), layer);
    assert.deepEqual(await bytesOf(`/v2/imp/legacy/blobs/${sha256(legacy.config)}`), legacy.config);
  });

  it('pushes index.json itself as the image index when it lists several unnamed platform images, tagged latest', async () => {
    const file = path.join(work, 'platforms.tar');
    const { images, indexJson } = await writeUnnamedPlatformsLayout(file);
    const res = await postImport(registry.url, { repository: 'imp/platforms', archive: file }, alice());
    const body = (await res.json()) as { digest: string; tag: string; mediaType: string; manifestsPushed: number };
    assert.equal(res.status, 201, JSON.stringify(body));
    assert.deepEqual([body.digest, body.tag, body.mediaType, body.manifestsPushed], [sha256(indexJson), 'latest', 'application/vnd.oci.image.index.v1+json', 3]);
    assert.deepEqual(await bytesOf('/v2/imp/platforms/manifests/latest'), indexJson);
    for (const image of images) assert.deepEqual(await bytesOf(`/v2/imp/platforms/manifests/${image.manifest.digest}`), image.manifest.data);
  });

  it('picks the image of a layout that names several by the form’s tag, and reads a Docker 25 archive as its OCI layout', async () => {
    const file = path.join(work, 'named.tar');
    const images = [buildImage('oci', 1), buildImage('oci', 1)];
    // Docker 25+ writes manifest.json beside the layout; the layout is used, so the manifest keeps its digest.
    const dockerManifest = Buffer.from(JSON.stringify([{ Config: `blobs/sha256/${images[1]!.config.digest.slice(7)}`, RepoTags: ['app:b'], Layers: [] }]));
    await writeNamedLayout(file, images, ['a', 'b'], [{ name: 'manifest.json', data: dockerManifest }]);
    const res = await postImport(registry.url, { repository: 'imp/named', tag: 'b', archive: file }, alice());
    const body = (await res.json()) as { digest: string; tag: string; format: string };
    assert.equal(res.status, 201, JSON.stringify(body));
    assert.deepEqual([body.digest, body.tag, body.format], [images[1]!.manifest.digest, 'b', 'oci-layout']);
    const untagged = await postImport(registry.url, { repository: 'imp/named', archive: file }, alice());
    const error = ((await untagged.json()) as { errors: { code: string; detail: { names: string[] } }[] }).errors[0]!;
    assert.deepEqual([untagged.status, error.code, error.detail.names], [400, 'IMPORT_INVALID', ['a', 'b']]);
  });

  describe('refusals, which leave no manifest, tag or manifest event', () => {
    /** No tag (blobs stored before a failure make the repository exist, with no tags). */
    const assertNothingTagged = async (repository: string) => {
      const res = await get(`/v2/${repository}/tags/list`);
      const text = await res.text();
      if (res.status === 200) assert.deepEqual((JSON.parse(text) as { tags: string[] }).tags, [], `${repository} has tags`);
      else assert.equal(res.status, 404, text);
    };

    it('answers an archive over ui.import.maxsize with 413 TOO_LARGE and removes the spooled upload', async () => {
      const file = path.join(work, 'big.tar');
      await writeFile(file, randomBytes(MAX_SIZE * 4)); // read to its end (not stored) before the answer
      const error = await expectAdminError(await postImport(registry.url, { repository: 'imp/big', archive: file }, alice()), 413, 'TOO_LARGE');
      assert.deepEqual(error.detail, { limit: MAX_SIZE, setting: 'ui.import.maxsize' });
      await assertNothingTagged('imp/big');
      assert.deepEqual(await readdir(path.join(registry.root, '_import')), [], 'the spool directory is empty');
    });

    it('answers bytes that are no tar with 400 IMPORT_INVALID and a detail', async () => {
      const file = path.join(work, 'garbage.bin');
      await writeFile(file, randomBytes(10_000));
      const error = await expectAdminError(await postImport(registry.url, { repository: 'imp/garbage', archive: file }, alice()), 400, 'IMPORT_INVALID');
      assert.match(error.message, /not a readable tar|neither index\.json/);
      assert.ok(error.detail && typeof error.detail === 'object', 'a detail');
      await writeFile(file, tar([{ name: 'README', data: Buffer.from('a tar, but no image') }]));
      const notImage = await expectAdminError(await postImport(registry.url, { repository: 'imp/garbage', archive: file }, alice()), 400, 'IMPORT_INVALID');
      assert.match(notImage.message, /neither index\.json .* nor manifest\.json/);
      await assertNothingTagged('imp/garbage');
    });

    it('refuses a layer whose bytes do not match its digest, and pushes no manifest', async () => {
      const file = path.join(work, 'tampered.tar');
      const image = await writeTamperedLayout(file);
      const error = await expectAdminError(await postImport(registry.url, { repository: 'imp/tampered', archive: file }, alice()), 400, 'IMPORT_INVALID');
      assert.equal((error.detail as { digest?: string }).digest, image.layers.at(-1)!.digest);
      await assertNothingTagged('imp/tampered');
      assert.equal((await get(`/v2/imp/tampered/manifests/${image.manifest.digest}`)).status, 404);
    });

    it('refuses a manifest that names a blob the archive lacks, before pushing anything', async () => {
      const file = path.join(work, 'missing.tar');
      const image = await writeLayoutMissingBlob(file);
      const error = await expectAdminError(await postImport(registry.url, { repository: 'imp/missing', archive: file }, alice()), 400, 'IMPORT_INVALID');
      assert.equal((error.detail as { digest?: string }).digest, image.layers.at(-1)!.digest);
      assert.equal((await get(`/v2/imp/missing/blobs/${image.config.digest}`)).status, 404, 'no blob was pushed');
    });

    it('refuses a request without credentials (401) and one of a user who is no admin (403)', async () => {
      const unauthenticated = await postImport(registry.url, { repository: 'imp/anon', archive: src.ociArchive });
      await expectAdminError(unauthenticated, 401, 'UNAUTHORIZED');
      const bob = await postImport(registry.url, { repository: 'imp/anon', archive: src.ociArchive }, basic('bob', users.passwords.bob));
      await expectAdminError(bob, 403, 'DENIED');
      await assertNothingTagged('imp/anon');
    });

    it('refuses an invalid repository name as the /v2/ API does, and a body that is no form, with 400 INVALID_PARAMETER', async () => {
      const error = await expectAdminError(await postImport(registry.url, { repository: 'Bad Name', archive: src.ociArchive }, alice()), 400, 'INVALID_PARAMETER');
      assert.equal((error.detail as { field?: string }).field, 'repository');
      const json = await fetch(new URL('/ui/import', registry.url), {
        method: 'POST', body: JSON.stringify({ repository: 'imp/json' }), headers: { authorization: alice(), 'content-type': 'application/json' },
      });
      assert.equal((await expectAdminError(json, 400, 'INVALID_PARAMETER') as { detail: { field: string } }).detail.field, 'archive');
    });

    it('removes the spooled part of an upload the client gave up on', async () => {
      const boundary = `----dockyard${randomBytes(8).toString('hex')}`;
      const head = `--${boundary}\r\nContent-Disposition: form-data; name="repository"\r\n\r\nimp/aborted\r\n--${boundary}\r\n`
        + 'Content-Disposition: form-data; name="archive"; filename="a.tar"\r\nContent-Type: application/x-tar\r\n\r\n';
      const aborted = new AbortController();
      const chunks = [Buffer.from(head), randomBytes(32 * 1024)];
      // The head and part of the file, then nothing more until the client gives up.
      const body = new ReadableStream<Uint8Array>({ pull: (c) => (chunks.length > 0 ? c.enqueue(chunks.shift()!) : new Promise(() => {})) });
      const request = fetch(new URL('/ui/import', registry.url), {
        method: 'POST', body, duplex: 'half', signal: aborted.signal,
        headers: { authorization: alice(), 'content-type': `multipart/form-data; boundary=${boundary}` },
      } as RequestInit).catch((err: unknown) => err);
      const spool = path.join(registry.root, '_import');
      const spooled = async () => (await Promise.all((await readdir(spool)).map((d) => stat(path.join(spool, d, 'archive')).then((s) => s.size, () => 0)))).some((n) => n > 0);
      await until(spooled, 'part of the archive is spooled');
      aborted.abort();
      assert.ok((await request) instanceof Error, 'the client gave up');
      await until(async () => (await readdir(spool)).length === 0, 'the spool directory is empty again');
      await assertNothingTagged('imp/aborted');
    });

    it('queued no manifest event for any refused import (the last import, legacy, was delivered after them all)', async () => {
      await eventsUntilTag('imp/legacy', '2.0');
      const refused = ['imp/big', 'imp/garbage', 'imp/tampered', 'imp/missing', 'imp/anon'];
      // Events are delivered in order: a sentinel import after the refusals bounds the wait.
      const res = await postImport(registry.url, { repository: 'imp/sentinel', tag: 's', archive: src.ociArchive }, alice());
      assert.equal(res.status, 201, await res.text());
      await eventsUntilTag('imp/sentinel', 's');
      const manifests = receiver.events().filter((e) => refused.includes(e.target.repository ?? '') && e.target.mediaType !== 'application/octet-stream');
      assert.deepEqual(manifests, []);
      assert.deepEqual(await readdir(path.join(registry.root, '_import')), [], 'every import, good or bad, left the spool empty');
    });
  });
});

describe('POST /ui/import in other configurations', { timeout: 30_000 }, () => {
  for (const [setting, config, status] of [
    ['ui.enabled: false (not registered)', { ui: { enabled: false } }, 404],
    ['storage.maintenance.readonly.enabled: true (a write)', { storage: { maintenance: { readonly: { enabled: true } } } }, 405],
  ] as const) {
    it(`answers ${status} with ${setting}`, async () => {
      const registry = await startTestRegistry(config);
      try {
        const form = new FormData();
        form.set('repository', 'imp/other');
        form.set('archive', new Blob([randomBytes(1024)]), 'a.tar');
        const res = await fetch(new URL('/ui/import', registry.url), { method: 'POST', body: form });
        assert.equal(res.status, status, await res.text());
      } finally {
        await registry.stop();
      }
    });
  }
});
