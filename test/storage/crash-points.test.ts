import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtemp, readdir, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, it, type TestContext } from 'node:test';
import { Failpoints } from '../../src/storage/failpoints.ts';
import { ChildRegistry, freePort, writeConfig } from '../helpers/child-registry.ts';
import { Client, bytes, withDigest } from '../helpers/client.ts';
import { MediaTypes, ociImage, randomBlob, sha256, type ImageFixture } from '../helpers/oci.ts';

/**
 * Every storage failpoint, deterministically: the registry runs as a child process with
 * DOCKYARD_FAILPOINTS set, the operation that reaches the failpoint kills it there (SIGKILL), and
 * a registry started again on the same storage must show a consistent store (everything listed
 * is readable, every blob has its digest, nothing half-written is served) and accept a retry of
 * the interrupted operation. Events are not checked here (test/notify does).
 *
 * Each case needs two process starts (the armed one that dies, and the clean one that checks,
 * retries and prepares the next case), so the cases run in a few chains side by side.
 */

const ACCEPT = [MediaTypes.ociManifest, MediaTypes.ociIndex, MediaTypes.dockerManifest, MediaTypes.dockerManifestList].join(', ');

/** What clients were told succeeded, and must be found intact. */
class Known {
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

interface Operation<S> {
  name: string;
  /** The failpoints its run and retry pass (a registry armed with one of them cannot run the retry). */
  passes: readonly string[];
  /** Runs on a registry without failpoints: what the operation needs. */
  prepare(c: Client, known: Known): Promise<S>;
  /** The request that reaches the failpoint (the registry dies during it). */
  run(c: Client, s: S): Promise<Response>;
  /** After the restart: the same operation again must succeed, with its outcome in the store. */
  retry(c: Client, s: S, known: Known): Promise<void>;
}

interface CrashCase {
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

async function expectBlob(c: Client, repo: string, digest: string): Promise<void> {
  const res = await c.fetch(`/v2/${repo}/blobs/${digest}`);
  assert.equal(res.status, 200, `GET blob ${repo}@${digest}`);
  assert.equal(sha256(Buffer.from(await res.arrayBuffer())), digest, `blob ${repo}@${digest} read back`);
}

async function expectManifest(c: Client, repo: string, reference: string, digest: string): Promise<void> {
  const res = await c.fetch(`/v2/${repo}/manifests/${reference}`, { headers: { accept: ACCEPT } });
  assert.equal(res.status, 200, `GET manifest ${repo}:${reference}`);
  const body = Buffer.from(await res.arrayBuffer());
  assert.equal(sha256(body), digest, `manifest ${repo}:${reference} read back`);
}

async function expectGone(res: Response, what: string): Promise<void> {
  await res.arrayBuffer();
  assert.equal(res.status, 404, `${what} should be gone`);
}

const blobMonolithic: Operation<{ repo: string; location: string; blob: { data: Buffer; digest: string } }> = {
  name: 'monolithic blob push',
  passes: [Failpoints.blobWritten, Failpoints.uploadCompleting, Failpoints.blobPublished, Failpoints.blobLinked, Failpoints.uploadClosed],
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
};

const blobChunked: Operation<{ repo: string; location: string; blob: { data: Buffer; digest: string } }> = {
  name: 'chunked blob push',
  passes: [Failpoints.blobWritten, Failpoints.uploadCompleting, Failpoints.blobPublished, Failpoints.blobLinked, Failpoints.uploadClosed],
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
};

function manifestPush(byTag: boolean, withSubject = false): Operation<{ repo: string; image: ImageFixture; reference: string }> {
  return {
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
  };
}

const mount: Operation<{ from: string; repo: string; digest: string }> = {
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
};

function manifestDelete(withSubject = false): Operation<{ repo: string; image: ImageFixture }> {
  return {
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
  };
}

const tagDelete: Operation<{ repo: string; image: ImageFixture }> = {
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
};

const blobDelete: Operation<{ repo: string; digest: string }> = {
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
};

const F = Failpoints;
const tagged = manifestPush(true);
const byDigest = manifestPush(false, true);
const mono = blobMonolithic;
/**
 * The cases, in chains that run side by side (each on its own storage and port). Within a chain,
 * the registry armed for a case first checks the store and retries the previous case, unless
 * that retry would pass its failpoint (then a clean registry does it): order them so that
 * neighbours differ. Driver failpoints (`storage.fs.*`, hit by every write) always get a clean one.
 */
const CHAINS: CrashCase[][] = [
  [
    // Upload completion: PUT hits putContent(state completing) #1, the move into a new blob
    // directory #2, the layer link #3, putContent(state completed) #4.
    { failpoint: F.blobWritten, op: mono },
    { failpoint: F.manifestWritten, op: tagged },
    { failpoint: F.uploadCompleting, op: mono },
    { failpoint: F.revisionLinked, op: tagged },
    { failpoint: F.blobPublished, op: mono },
    { failpoint: F.tagWritten, op: tagged },
    { failpoint: F.blobLinked, op: mono },
    { failpoint: F.blobMounted, op: mount },
    { failpoint: F.uploadClosed, op: mono },
    { failpoint: `${F.fileWritten}@1`, op: mono },
    { failpoint: `${F.subtreeStaged}@1`, op: mono },
    { failpoint: `${F.renamed}@2`, op: mono },
    // A manifest pushed by tag: manifest bytes #1, revision link #2, tag link #3, each in a new directory.
    { failpoint: `${F.subtreeStaged}@3`, op: tagged },
  ],
  [
    { failpoint: `${F.manifestUntagged}@1`, op: manifestDelete() },
    { failpoint: F.blobPublished, op: blobChunked },
    { failpoint: `${F.manifestUntagged}@2`, op: manifestDelete() },
    { failpoint: F.manifestWritten, op: byDigest },
    { failpoint: F.manifestDeleted, op: manifestDelete() },
    { failpoint: F.referrerAdded, op: byDigest },
    { failpoint: F.referrerRemoved, op: manifestDelete(true) },
    { failpoint: F.blobWritten, op: blobChunked },
    { failpoint: F.tagRemoved, op: tagDelete },
    { failpoint: F.blobUnlinked, op: blobDelete },
    { failpoint: `${F.deleteRenamed}@1`, op: tagDelete },
  ],
] as CrashCase[][];

/** Everything the registry lists is readable and intact; everything acknowledged is there. */
async function checkStore(c: Client, root: string, known: Known): Promise<{ repositories: number; tags: number; blobs: number }> {
  const catalog = (await (await c.fetch('/v2/_catalog?n=1000')).json()) as { repositories: string[] };
  let tags = 0;
  let blobs = 0;
  for (const repo of catalog.repositories) {
    const res = await c.fetch(`/v2/${repo}/tags/list`);
    assert.equal(res.status, 200, `tags/list of listed repository ${repo}`);
    for (const tag of ((await res.json()) as { tags: string[] }).tags) {
      const m = await c.fetch(`/v2/${repo}/manifests/${tag}`, { headers: { accept: ACCEPT } });
      assert.equal(m.status, 200, `listed tag ${repo}:${tag} resolves`);
      const body = Buffer.from(await m.arrayBuffer());
      assert.equal(m.headers.get('docker-content-digest'), sha256(body), `listed tag ${repo}:${tag} serves its digest`);
      const expected = known.tags.get(`${repo}:${tag}`);
      if (expected) assert.equal(sha256(body), expected, `tag ${repo}:${tag} names what was pushed`);
      const parsed = JSON.parse(body.toString('utf8')) as { config?: { digest: string }; layers?: { digest: string }[] };
      for (const d of [parsed.config, ...(parsed.layers ?? [])]) {
        if (d) {
          await expectBlob(c, repo, d.digest);
          blobs++;
        }
      }
      tags++;
    }
  }
  for (const [key, digest] of known.tags) {
    const [repo, tag] = key.split(':') as [string, string];
    await expectManifest(c, repo, tag, digest);
  }
  for (const { repo, digest } of known.blobs.values()) await expectBlob(c, repo, digest);
  await checkFiles(root);
  return { repositories: catalog.repositories.length, tags, blobs };
}

/** On disk: every tag, revision and layer directory holds its link; every blob's bytes have its digest. */
async function checkFiles(root: string): Promise<void> {
  const dirs = async (p: string) => (await readdir(p, { withFileTypes: true }).catch(() => [])).filter((e) => e.isDirectory()).map((e) => e.name);
  const repos: string[] = [];
  const walk = async (rel: string): Promise<void> => {
    const children = await dirs(path.join(root, 'repositories', rel));
    if (children.includes('_manifests') || children.includes('_layers')) repos.push(rel);
    for (const child of children) if (!child.startsWith('_')) await walk(rel ? `${rel}/${child}` : child);
  };
  await walk('');
  for (const repo of repos) {
    const base = path.join(root, 'repositories', repo);
    for (const tag of await dirs(path.join(base, '_manifests/tags'))) {
      await stat(path.join(base, '_manifests/tags', tag, 'current/link')).catch(() => assert.fail(`tag directory ${repo}:${tag} without its link`));
    }
    for (const kind of ['_manifests/revisions', '_layers']) {
      for (const alg of await dirs(path.join(base, kind))) {
        for (const hex of await dirs(path.join(base, kind, alg))) {
          await stat(path.join(base, kind, alg, hex, 'link')).catch(() => assert.fail(`${kind} directory ${repo} ${hex} without its link`));
        }
      }
    }
  }
  // Temp files and staged subtrees live in _tmp only, never beside what they become.
  const strays: string[] = [];
  const scan = async (rel: string): Promise<void> => {
    for (const e of await readdir(path.join(root, rel), { withFileTypes: true }).catch(() => [])) {
      if (/\.tmp$|\.(file|dir|trash)$/.test(e.name)) strays.push(`${rel}/${e.name}`);
      if (e.isDirectory()) await scan(`${rel}/${e.name}`);
    }
  };
  await scan('repositories');
  await scan('blobs');
  assert.deepEqual(strays, [], 'temp files outside _tmp');
  for (const prefix of await dirs(path.join(root, 'blobs/sha256'))) {
    for (const hex of await dirs(path.join(root, 'blobs/sha256', prefix))) {
      const data = await readFile(path.join(root, 'blobs/sha256', prefix, hex, 'data')).catch(() => assert.fail(`blob directory ${hex} without its data`));
      assert.equal(createHash('sha256').update(data).digest('hex'), hex, `blob ${hex} holds other bytes`);
    }
  }
}

/** The request gets no answer: the registry died at the failpoint. */
async function dies(registry: ChildRegistry, failpoint: string, request: Promise<Response>): Promise<void> {
  const outcome = await request.then(
    async (res) => `answered ${res.status}: ${await res.text().catch(() => '')}`,
    () => null,
  );
  const name = nameOf(failpoint);
  for (let i = 0; i < 100 && !registry.log.includes(`failpoint ${name} reached`); i++) await sleep(20);
  assert.ok(registry.log.includes(`failpoint ${name} reached`), `failpoint ${failpoint} was not reached (${outcome ?? 'no answer'}):\n${registry.log}`);
  assert.equal(outcome, null, `the registry answered although it died at ${failpoint}`);
}

interface Pending {
  k: CrashCase;
  s: unknown;
}

const nameOf = (failpoint: string) => failpoint.split('@')[0]!;

async function runChain(t: TestContext, cases: CrashCase[]): Promise<void> {
  const dir = await mkdtemp(path.join(tmpdir(), 'dockyard-crash-'));
  const root = path.join(dir, 'data');
  const port = await freePort();
  const config = await writeConfig(dir, {
    log: { level: 'error' },
    http: { addr: `127.0.0.1:${port}` },
    storage: { filesystem: { rootdirectory: root }, maintenance: { uploadpurging: { enabled: false } } },
  });
  const known = new Known();
  const live = new Set<ChildRegistry>();
  const start = async (failpoint?: string) => {
    const r = await ChildRegistry.start(config, port, 30_000, failpoint ? { DOCKYARD_FAILPOINTS: failpoint } : {});
    live.add(r);
    return r;
  };
  const stop = async (r: ChildRegistry) => {
    await r.kill().catch(() => undefined); // one that died at its failpoint is reaped
    live.delete(r);
  };
  /** After a restart: the store is consistent, and the interrupted operation succeeds when retried. */
  const settle = (r: ChildRegistry, p: Pending) =>
    t.test(`${p.k.op.name}, killed at ${p.k.failpoint}: after the restart the store is consistent and a retry succeeds`, async () => {
      const c = new Client(r.url);
      await checkStore(c, root, known);
      await (p.k.op as Operation<unknown>).retry(c, p.s, known);
    });
  let starts = 0;
  try {
    const first = await start();
    starts++;
    const states: unknown[] = [];
    for (const k of cases) states.push(await (k.op as Operation<unknown>).prepare(new Client(first.url), known));
    await stop(first);
    let pending: Pending | null = null;
    for (const [i, k] of cases.entries()) {
      if (pending && (k.failpoint.startsWith('storage.fs.') || pending.k.op.passes.includes(nameOf(k.failpoint)))) {
        const clean = await start();
        starts++;
        await settle(clean, pending);
        await stop(clean);
        pending = null;
      }
      const armed = await start(k.failpoint);
      starts++;
      if (pending) await settle(armed, pending);
      await t.test(`${k.op.name} dies at ${k.failpoint}`, () =>
        dies(armed, k.failpoint, (k.op as Operation<unknown>).run(new Client(armed.url), states[i])),
      );
      await stop(armed);
      pending = { k, s: states[i] };
    }
    const last = await start();
    starts++;
    if (pending) await settle(last, pending);
    const figures = await checkStore(new Client(last.url), root, known);
    await stop(last);
    t.diagnostic(
      `${cases.length} kill points, ${starts} process starts; at the end ${figures.repositories} repositories, ${figures.tags} tags, ` +
        `${figures.blobs} blobs of listed manifests and ${known.blobs.size} acknowledged blobs checked`,
    );
  } finally {
    for (const r of live) await r.kill().catch(() => undefined);
    await rm(dir, { recursive: true, force: true });
  }
}

describe('crash at every storage failpoint', { concurrency: CHAINS.length }, () => {
  CHAINS.forEach((cases, i) => {
    it(`chain ${i + 1} (${cases.length} kill points)`, (t) => runChain(t, cases));
  });
});
