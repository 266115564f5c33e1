import assert from 'node:assert/strict';
import type { ChangeIntent } from '../../src/notify/events/change-intent.ts';
import type { Event } from '../../src/notify/event.ts';
import { Failpoints } from '../../src/storage/failpoints.ts';
import { Client, bytes, withDigest } from '../helpers/client.ts';
import { MediaTypes, ociImage, randomBlob, sha256, type ImageFixture } from '../helpers/oci.ts';

/**
 * The write operations the crash tests interrupt (crash-points.test.ts): how to prepare each,
 * the request that dies, the retry that must succeed after the restart, and the facts that
 * decide which events the interrupted request owes.
 */

export const ACCEPT = [MediaTypes.ociManifest, MediaTypes.ociIndex, MediaTypes.dockerManifest, MediaTypes.dockerManifestList].join(', ');

/** What clients were told succeeded, and must be found intact. */
export class Known {
  readonly blobs = new Map<string, { repo: string; digest: string }>();
  readonly tags = new Map<string, string>();
  addBlob(repo: string, digest: string): void {
    this.blobs.set(`${repo}@${digest}`, { repo, digest });
  }
  forgetBlob(repo: string, digest: string): void {
    this.blobs.delete(`${repo}@${digest}`);
  }
  addImage(repo: string, image: ImageFixture): void {
    for (const b of [image.config, ...image.layers]) this.addBlob(repo, b.digest);
  }
}

/**
 * One outcome an interrupted operation may or may not have reached, as the store shows it after
 * the restart, and the event that reports it: present in the store means its event was
 * delivered; absent means no such event was.
 */
export interface Fact {
  what: string;
  /** Whether the store shows this outcome now. */
  holds(c: Client): Promise<boolean>;
  /** The event that reports it. */
  reports(e: Event): boolean;
}

export interface Operation<S> {
  name: string;
  /** The kind of change it is (its journal failpoints are `notify.*.<kind>`). */
  kind: ChangeIntent['kind'];
  /** The failpoints its run and retry pass (a registry armed with one of them cannot run the retry). */
  passes: readonly string[];
  /** Runs on a registry without failpoints: what the operation needs. */
  prepare(c: Client, known: Known): Promise<S>;
  /** The request that reaches the failpoint (the registry dies during it). */
  run(c: Client, s: S): Promise<Response>;
  /** After the restart: the same operation again must succeed, with its outcome in the store. */
  retry(c: Client, s: S, known: Known): Promise<void>;
  /** What the interrupted request may have done, each with its event. */
  facts(s: S): Fact[];
}

export interface CrashCase {
  /** The DOCKYARD_FAILPOINTS value (`name` or `name@N`). */
  failpoint: string;
  op: Operation<never>;
}

let seq = 0;
const repoName = (kind: string) => `crash/${kind}${++seq}`;

async function pushImage(c: Client, repo: string, known: Known, reference?: string, image = ociImage({ layers: 1 })) {
  for (const blob of [image.config, ...image.layers]) {
    const res = await c.pushBlob(repo, blob.data, blob.digest);
    assert.equal(res.status, 201, `blob push: ${await res.text()}`);
  }
  known.addImage(repo, image);
  if (reference) {
    const res = await c.pushManifest(repo, reference, image.manifest, image.mediaType);
    assert.equal(res.status, 201, `manifest push: ${await res.text()}`);
    if (reference !== image.digest) known.tags.set(`${repo}:${reference}`, image.digest);
  }
  return image;
}

export async function expectBlob(c: Client, repo: string, digest: string): Promise<void> {
  const res = await c.fetch(`/v2/${repo}/blobs/${digest}`);
  assert.equal(res.status, 200, `GET blob ${repo}@${digest}`);
  assert.equal(sha256(Buffer.from(await res.arrayBuffer())), digest, `blob ${repo}@${digest} read back`);
}

export async function expectManifest(c: Client, repo: string, reference: string, digest: string): Promise<void> {
  const res = await c.fetch(`/v2/${repo}/manifests/${reference}`, { headers: { accept: ACCEPT } });
  assert.equal(res.status, 200, `GET manifest ${repo}:${reference}`);
  const body = Buffer.from(await res.arrayBuffer());
  assert.equal(sha256(body), digest, `manifest ${repo}:${reference} read back`);
}

async function expectGone(res: Response, what: string): Promise<void> {
  await res.arrayBuffer();
  assert.equal(res.status, 404, `${what} should be gone`);
}

/** A blob push passes these (the publish steps on shared storage only). */
const BLOB_PUSH_STEPS = [
  Failpoints.blobWritten,
  Failpoints.uploadCompleting,
  Failpoints.publishStaged,
  Failpoints.publishVerified,
  Failpoints.blobPublished,
  Failpoints.blobLinked,
  Failpoints.uploadClosed,
];

export const blobMonolithic: Operation<{ repo: string; location: string; blob: { data: Buffer; digest: string } }> = {
  kind: 'blob.push',
  name: 'monolithic blob push',
  passes: BLOB_PUSH_STEPS,
  async prepare(c) {
    const repo = repoName('mono');
    return { repo, location: await c.startUpload(repo), blob: randomBlob(4096) };
  },
  run: (c, s) => c.fetch(withDigest(s.location, s.blob.digest), { method: 'PUT', body: bytes(s.blob.data) }),
  async retry(c, s, known) {
    const res = await c.fetch(withDigest(s.location, s.blob.digest), { method: 'PUT', body: bytes(s.blob.data) });
    assert.equal(res.status, 201, `retried completion: ${await res.text()}`);
    assert.equal(res.headers.get('docker-content-digest'), s.blob.digest);
    await expectBlob(c, s.repo, s.blob.digest);
    known.addBlob(s.repo, s.blob.digest);
  },
  facts: (s) => [blobPushed(s.repo, s.blob.digest)],
};

export const blobChunked: Operation<{ repo: string; location: string; blob: { data: Buffer; digest: string } }> = {
  kind: 'blob.push',
  name: 'chunked blob push',
  passes: BLOB_PUSH_STEPS,
  async prepare(c) {
    const repo = repoName('chunked');
    const blob = randomBlob(6000);
    const location = await c.startUpload(repo);
    const res = await c.patchChunk(location, blob.data.subarray(0, 3000), 0);
    assert.equal(res.status, 202);
    const next = await c.patchChunk(res.headers.get('location') ?? location, blob.data.subarray(3000), 3000);
    assert.equal(next.status, 202);
    return { repo, location: next.headers.get('location') ?? location, blob };
  },
  run: (c, s) => c.fetch(withDigest(s.location, s.blob.digest), { method: 'PUT' }),
  async retry(c, s, known) {
    const res = await c.fetch(withDigest(s.location, s.blob.digest), { method: 'PUT' });
    assert.equal(res.status, 201, `retried completion: ${await res.text()}`);
    await expectBlob(c, s.repo, s.blob.digest);
    known.addBlob(s.repo, s.blob.digest);
  },
  facts: (s) => [blobPushed(s.repo, s.blob.digest)],
};

export function manifestPush(byTag: boolean, withSubject = false): Operation<{ repo: string; image: ImageFixture; reference: string }> {
  return {
    kind: 'manifest.push',
    name: `manifest push by ${byTag ? 'tag' : 'digest'}${withSubject ? ' with a subject' : ''}`,
    passes: [Failpoints.manifestWritten, Failpoints.revisionLinked, Failpoints.referrerAdded, Failpoints.tagWritten],
    async prepare(c, known) {
      const repo = repoName(byTag ? 'tagged' : 'bydigest');
      let subject;
      if (withSubject) {
        const base = await pushImage(c, repo, known, 'base');
        subject = { mediaType: base.mediaType, digest: base.digest, size: base.manifest.length };
      }
      const image = ociImage({ layers: 1, ...(subject ? { subject, artifactType: 'application/vnd.example.sig' } : {}) });
      await pushImage(c, repo, known, undefined, image);
      return { repo, image, reference: byTag ? 'v1' : image.digest };
    },
    run: (c, s) => c.pushManifest(s.repo, s.reference, s.image.manifest, s.image.mediaType),
    async retry(c, s, known) {
      const res = await c.pushManifest(s.repo, s.reference, s.image.manifest, s.image.mediaType);
      assert.equal(res.status, 201, `retried manifest push: ${await res.text()}`);
      await expectManifest(c, s.repo, s.reference, s.image.digest);
      await expectManifest(c, s.repo, s.image.digest, s.image.digest);
      if (byTag) known.tags.set(`${s.repo}:${s.reference}`, s.image.digest);
    },
    facts: (s) => [
      {
        what: `manifest ${s.repo}@${s.image.digest} stored`,
        holds: async (c) => (await status(c, `/v2/${s.repo}/manifests/${s.image.digest}`)) === 200,
        reports: (e) => e.action === 'push' && e.target.repository === s.repo && e.target.digest === s.image.digest,
      },
    ],
  };
}

export const mount: Operation<{ from: string; repo: string; digest: string }> = {
  kind: 'blob.mount',
  name: 'cross-repository mount',
  passes: [Failpoints.blobMounted],
  async prepare(c, known) {
    const from = repoName('mountfrom');
    const blob = randomBlob(2048);
    assert.equal((await c.pushBlob(from, blob.data, blob.digest)).status, 201);
    known.addBlob(from, blob.digest);
    return { from, repo: repoName('mountto'), digest: blob.digest };
  },
  run: (c, s) => c.fetch(`/v2/${s.repo}/blobs/uploads/?mount=${s.digest}&from=${s.from}`, { method: 'POST' }),
  async retry(c, s, known) {
    const res = await c.fetch(`/v2/${s.repo}/blobs/uploads/?mount=${s.digest}&from=${s.from}`, { method: 'POST' });
    assert.equal(res.status, 201, `retried mount: ${await res.text()}`);
    await expectBlob(c, s.repo, s.digest);
    known.addBlob(s.repo, s.digest);
  },
  facts: (s) => [
    {
      what: `blob ${s.digest} mounted into ${s.repo}`,
      holds: async (c) => (await status(c, `/v2/${s.repo}/blobs/${s.digest}`)) === 200,
      reports: (e) => e.action === 'mount' && e.target.repository === s.repo && e.target.digest === s.digest,
    },
  ],
};

export function manifestDelete(withSubject = false): Operation<{ repo: string; image: ImageFixture }> {
  return {
    kind: 'manifest.delete',
    name: `manifest delete${withSubject ? ' of a referrer' : ''} (two tags)`,
    passes: [Failpoints.manifestUntagged, Failpoints.referrerRemoved, Failpoints.manifestDeleted],
    async prepare(c, known) {
      const repo = repoName('delmanifest');
      let subject;
      if (withSubject) {
        const base = await pushImage(c, repo, known, 'base');
        subject = { mediaType: base.mediaType, digest: base.digest, size: base.manifest.length };
      }
      const image = await pushImage(c, repo, known, 'a', ociImage({ layers: 1, ...(subject ? { subject } : {}) }));
      assert.equal((await c.pushManifest(repo, 'b', image.manifest, image.mediaType)).status, 201);
      // In doubt from here: the delete may or may not have happened when the registry died.
      known.tags.delete(`${repo}:a`);
      return { repo, image };
    },
    run: (c, s) => c.fetch(`/v2/${s.repo}/manifests/${s.image.digest}`, { method: 'DELETE' }),
    async retry(c, s) {
      const res = await c.fetch(`/v2/${s.repo}/manifests/${s.image.digest}`, { method: 'DELETE' });
      await res.arrayBuffer();
      assert.ok(res.status === 202 || res.status === 404, `retried delete answered ${res.status}`);
      await expectGone(await c.fetch(`/v2/${s.repo}/manifests/${s.image.digest}`), 'the deleted manifest');
      for (const tag of ['a', 'b']) await expectGone(await c.fetch(`/v2/${s.repo}/manifests/${tag}`), `tag ${tag}`);
      const tags = (await (await c.fetch(`/v2/${s.repo}/tags/list`)).json()) as { tags: string[] };
      assert.deepEqual(tags.tags.filter((t) => t !== 'base'), []);
    },
    facts: (s) => [
      {
        what: `manifest ${s.repo}@${s.image.digest} deleted`,
        holds: async (c) => (await status(c, `/v2/${s.repo}/manifests/${s.image.digest}`)) === 404,
        reports: (e) => e.action === 'delete' && e.target.repository === s.repo && e.target.digest === s.image.digest,
      },
      ...['a', 'b'].map((tag) => tagGone(s.repo, tag)),
    ],
  };
}

export const tagDelete: Operation<{ repo: string; image: ImageFixture }> = {
  kind: 'tag.delete',
  name: 'tag delete',
  passes: [Failpoints.tagRemoved],
  async prepare(c, known) {
    const repo = repoName('deltag');
    const image = await pushImage(c, repo, known, 'gone');
    assert.equal((await c.pushManifest(repo, 'stays', image.manifest, image.mediaType)).status, 201);
    known.tags.set(`${repo}:stays`, image.digest);
    known.tags.delete(`${repo}:gone`);
    return { repo, image };
  },
  run: (c, s) => c.fetch(`/v2/${s.repo}/manifests/gone`, { method: 'DELETE' }),
  async retry(c, s) {
    const res = await c.fetch(`/v2/${s.repo}/manifests/gone`, { method: 'DELETE' });
    await res.arrayBuffer();
    assert.ok(res.status === 202 || res.status === 404, `retried tag delete answered ${res.status}`);
    await expectGone(await c.fetch(`/v2/${s.repo}/manifests/gone`), 'the deleted tag');
    await expectManifest(c, s.repo, 'stays', s.image.digest);
  },
  facts: (s) => [tagGone(s.repo, 'gone')],
};

export const blobDelete: Operation<{ repo: string; digest: string }> = {
  kind: 'blob.delete',
  name: 'blob delete',
  passes: [Failpoints.blobUnlinked],
  async prepare(c) {
    const repo = repoName('delblob');
    const blob = randomBlob(1500);
    assert.equal((await c.pushBlob(repo, blob.data, blob.digest)).status, 201);
    return { repo, digest: blob.digest };
  },
  run: (c, s) => c.fetch(`/v2/${s.repo}/blobs/${s.digest}`, { method: 'DELETE' }),
  async retry(c, s) {
    const res = await c.fetch(`/v2/${s.repo}/blobs/${s.digest}`, { method: 'DELETE' });
    await res.arrayBuffer();
    assert.ok(res.status === 202 || res.status === 404, `retried blob delete answered ${res.status}`);
    await expectGone(await c.fetch(`/v2/${s.repo}/blobs/${s.digest}`), 'the deleted blob');
  },
  facts: (s) => [
    {
      what: `blob ${s.digest} deleted from ${s.repo}`,
      holds: async (c) => (await status(c, `/v2/${s.repo}/blobs/${s.digest}`)) === 404,
      reports: (e) => e.action === 'delete' && e.target.repository === s.repo && e.target.digest === s.digest,
    },
  ],
};

async function status(c: Client, path: string): Promise<number> {
  const res = await c.fetch(path, { method: 'HEAD', headers: { accept: ACCEPT } });
  await res.arrayBuffer();
  return res.status;
}

function blobPushed(repo: string, digest: string): Fact {
  return {
    what: `blob ${digest} pushed to ${repo}`,
    holds: async (c) => (await status(c, `/v2/${repo}/blobs/${digest}`)) === 200,
    reports: (e) => e.action === 'push' && e.target.repository === repo && e.target.digest === digest,
  };
}

function tagGone(repo: string, tag: string): Fact {
  return {
    what: `tag ${repo}:${tag} deleted`,
    holds: async (c) => (await status(c, `/v2/${repo}/manifests/${tag}`)) === 404,
    reports: (e) => e.action === 'delete' && e.target.repository === repo && e.target.tag === tag,
  };
}
