import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtemp, open, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { after, before, describe, it, type TestContext } from 'node:test';
import { randomBlob, sha256, ociImage } from '../helpers/oci.ts';
import { drained, eventually, startWithReceiver, type StartedHarness } from './support.ts';

/**
 * Storage faults as root (CI runs as root): the outbox made immutable (`chattr +i`, which stops
 * root too) and the data directory full (a small tmpfs). Clients get a clear error (a spec error
 * body), no request hangs, nothing half-written is visible, and the registry recovers without a
 * restart once the fault clears. Not root: skipped, with the reason logged.
 */

const IS_ROOT = process.getuid?.() === 0;
const NOT_ROOT = 'needs root (chattr +i and mount -t tmpfs); CI runs as root';

/** How long any one request may take while the fault holds. */
const REQUEST_BOUND_MS = 15_000;

function skipUnlessRoot(t: TestContext): boolean {
  if (IS_ROOT) return false;
  t.diagnostic(`skipped: ${NOT_ROOT} (uid ${process.getuid?.()})`);
  t.skip(NOT_ROOT);
  return true;
}

/** `p` (and its promise) must settle within the bound: a hang fails the test instead of the run. */
async function bounded<T>(what: string, p: Promise<T>, ms = REQUEST_BOUND_MS): Promise<{ value: T; ms: number }> {
  const started = Date.now();
  let timer: NodeJS.Timeout | undefined;
  const value = await Promise.race([
    p,
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`${what} hung for ${ms} ms`)), ms);
    }),
  ]).finally(() => clearTimeout(timer));
  return { value, ms: Date.now() - started };
}

interface SpecError {
  code: string;
  message: string;
  detail?: unknown;
}

/** The spec's error body: one or more errors, each with a code, a message and a detail. */
function assertSpecError(status: number, text: string, what: string): SpecError {
  let body: { errors?: SpecError[] };
  try {
    body = JSON.parse(text) as { errors?: SpecError[] };
  } catch {
    assert.fail(`${what}: answered ${status} with a body that is not JSON: ${text.slice(0, 300)}`);
  }
  assert.ok(Array.isArray(body.errors) && body.errors.length > 0, `${what}: not a spec error body: ${text.slice(0, 300)}`);
  const [error] = body.errors;
  assert.equal(typeof error!.code, 'string');
  assert.ok(error!.message.length > 0, `${what}: the error has a message`);
  assert.ok(error!.detail !== undefined, `${what}: the error has a detail`);
  return error!;
}

function chattr(flag: '+i' | '-i', file: string): void {
  execFileSync('chattr', [flag, file], { stdio: 'pipe' });
}

describe('the outbox cannot be written', { timeout: 120_000 }, () => {
  let h: StartedHarness | undefined;
  const frozen: string[] = [];

  function thaw(): void {
    for (const f of frozen.splice(0)) {
      try {
        chattr('-i', f);
      } catch {
        // already gone or never frozen
      }
    }
  }

  before(async () => {
    if (IS_ROOT) h = await startWithReceiver();
  });
  after(async () => {
    thaw();
    await h?.stop();
  });

  it('refuses pushes with a clear 5xx, hangs nothing, shows no state without its event, and recovers after chattr -i', async (t) => {
    if (skipUnlessRoot(t)) return;
    const harness = h!;
    const client = harness.client;
    const repo = 'frozen/app';

    // A push before the fault: the outbox exists, with its WAL.
    const image = ociImage({ layers: 1 });
    await client.pushImage(repo, 'before', image);
    await drained(harness.registry);

    const dir = path.join(harness.registry.root, '_notifications');
    const files = (await readdir(dir)).filter((f) => f.startsWith('outbox.sqlite')).map((f) => path.join(dir, f));
    assert.ok(files.some((f) => f.endsWith('outbox.sqlite')), `the outbox is at ${dir}: ${files}`);
    for (const f of [...files, dir]) {
      chattr('+i', f);
      frozen.push(f);
    }
    t.diagnostic(`made immutable: ${[...files, dir].map((f) => path.basename(f)).join(', ')}`);

    // Blob pushes and a manifest push by tag, while the outbox takes no write.
    const failed: { what: string; status: number; error: SpecError; ms: number }[] = [];
    const blobs = Array.from({ length: 3 }, (_, i) => randomBlob(200 + i));
    for (const [i, blob] of blobs.entries()) {
      const { value: res, ms } = await bounded(`blob push ${i}`, client.pushBlob(repo, blob.data, blob.digest));
      const text = await res.text();
      assert.ok(res.status >= 500, `a blob push with an unwritable outbox answered ${res.status}: ${text.slice(0, 300)}`);
      failed.push({ what: `blob ${i}`, status: res.status, error: assertSpecError(res.status, text, `blob push ${i}`), ms });
    }
    // The manifest refers to blobs that are already there (pushed before the fault).
    const manifestBody = Buffer.from(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: image.mediaType,
        config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: image.config.digest, size: image.config.data.length },
        layers: image.layers.map((l) => ({ mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', digest: l.digest, size: l.data.length })),
        annotations: { frozen: 'yes' },
      }),
    );
    const manifestDigest = sha256(manifestBody);
    {
      const { value: res, ms } = await bounded('manifest push', client.pushManifest(repo, 'during', manifestBody, image.mediaType));
      const text = await res.text();
      assert.ok(res.status >= 500, `a manifest push with an unwritable outbox answered ${res.status}: ${text.slice(0, 300)}`);
      failed.push({ what: 'manifest', status: res.status, error: assertSpecError(res.status, text, 'manifest push'), ms });
    }
    for (const f of failed) t.diagnostic(`${f.what}: ${f.status} ${f.error.code} "${f.error.message}" ${JSON.stringify(f.error.detail)} in ${f.ms} ms`);

    // Readiness says the outbox is failing; reads still answer.
    const ready = await bounded('/readyz', fetch(new URL('/readyz', harness.registry.url)));
    t.diagnostic(`/readyz during the fault: ${ready.value.status} ${await ready.value.text()}`);

    thaw();
    t.diagnostic('outbox writable again');

    // Without a restart, pushes succeed again and their events are delivered.
    const later: string[] = [];
    await eventually(async () => {
      const blob = randomBlob(500 + later.length);
      const res = (await bounded('blob push after the fault', client.pushBlob(repo, blob.data, blob.digest))).value;
      await res.arrayBuffer();
      if (res.status === 201) later.push(blob.digest);
      return res.status === 201;
    }, 'a blob push succeeds once the outbox is writable', 15_000);
    for (let i = 0; i < 3; i++) {
      const blob = randomBlob(600 + i);
      const res = await client.pushBlob(repo, blob.data, blob.digest);
      assert.equal(res.status, 201, await res.text());
      later.push(blob.digest);
    }
    const afterImage = await client.pushImage(repo, 'after', ociImage({ layers: 1 }));
    later.push(afterImage.digest);
    await eventually(async () => {
      const seen = new Set(harness.receiver.events().map((e) => e.target.digest));
      return later.every((d) => seen.has(d));
    }, 'the events of pushes after recovery are delivered', 15_000);
    await drained(harness.registry);

    // Nothing half-visible: every tag the registry shows has a push event for that tag and digest.
    const events = harness.receiver.events();
    const tags = (await (await client.fetch(`/v2/${repo}/tags/list`)).json()) as { tags: string[] };
    t.diagnostic(`tags after recovery: ${tags.tags.join(', ')}`);
    for (const tag of tags.tags) {
      const head = await client.fetch(`/v2/${repo}/manifests/${tag}`, { method: 'HEAD', headers: { accept: image.mediaType } });
      assert.equal(head.status, 200, `listed tag ${tag} resolves`);
      const digest = head.headers.get('docker-content-digest');
      assert.ok(
        events.some((e) => e.action === 'push' && e.target.tag === tag && e.target.digest === digest),
        `tag ${tag} (${digest}) has its push event`,
      );
    }
    // A push that failed changed nothing: its blob and its manifest are not there.
    for (const blob of blobs) {
      const head = await client.fetch(`/v2/${repo}/blobs/${blob.digest}`, { method: 'HEAD' });
      assert.equal(head.status, 404, `the blob whose push failed (${blob.digest}) is not visible`);
      assert.ok(!events.some((e) => e.target.digest === blob.digest), 'and has no event');
    }
    const during = await client.fetch(`/v2/${repo}/manifests/${manifestDigest}`, { method: 'HEAD', headers: { accept: image.mediaType } });
    assert.equal(during.status, 404, 'the manifest whose push failed is not visible by digest');
    assert.ok(!tags.tags.includes('during'), 'nor by its tag');
    t.diagnostic(`${failed.length} pushes refused (slowest ${Math.max(...failed.map((f) => f.ms))} ms), none visible; ${later.length} pushes after recovery, all delivered; tags ${tags.tags.length}, each with its event`);
  });
});

/** Megabytes of tmpfs the data directory gets; the filler takes most of it. */
const TMPFS_SIZE = '3m';
const FILLER_BYTES = 2 * 1024 * 1024;
const BLOB_BYTES = 160 * 1024;

describe('the data directory is full', { timeout: 120_000 }, () => {
  let h: StartedHarness | undefined;
  let mnt: string | undefined;
  let mounted = false;
  let outboxDir: string | undefined;

  before(async () => {
    if (!IS_ROOT) return;
    mnt = await mkdtemp(path.join(tmpdir(), 'dockyard-full-'));
    outboxDir = await mkdtemp(path.join(tmpdir(), 'dockyard-outbox-'));
    execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${TMPFS_SIZE}`, 'tmpfs', mnt], { stdio: 'pipe' });
    mounted = true;
    h = await startWithReceiver({
      config: { storage: { filesystem: { rootdirectory: mnt } } },
      notifications: { outbox: { path: path.join(outboxDir, 'outbox.sqlite') } },
    });
  });
  after(async () => {
    await h?.stop();
    if (mounted) execFileSync('umount', [mnt!], { stdio: 'pipe' });
    if (mnt) await rm(mnt, { recursive: true, force: true });
    if (outboxDir) await rm(outboxDir, { recursive: true, force: true });
  });

  it('refuses the push that does not fit with a spec error, publishes nothing partial, and recovers once space is freed', async (t) => {
    if (skipUnlessRoot(t)) return;
    const harness = h!;
    const client = harness.client;
    const repo = 'full/app';
    // Most of the disk taken by something else, so a few blobs fill the rest.
    const filler = path.join(mnt!, 'filler');
    await writeFile(filler, Buffer.alloc(FILLER_BYTES, 1));

    const pushed: { digest: string; data: Buffer }[] = [];
    let failedBlob: { digest: string; data: Buffer } | undefined;
    let failure: { status: number; error: SpecError; ms: number } | undefined;
    for (let i = 0; i < 40 && !failure; i++) {
      const blob = randomBlob(BLOB_BYTES);
      const { value: res, ms } = await bounded(`blob push ${i}`, client.pushBlob(repo, blob.data, blob.digest));
      const text = await res.text();
      if (res.status === 201) {
        pushed.push(blob);
        continue;
      }
      failedBlob = blob;
      failure = { status: res.status, error: assertSpecError(res.status, text, `blob push ${i}`), ms };
    }
    assert.ok(failure && failedBlob, `the disk filled within 40 pushes of ${BLOB_BYTES} bytes`);
    t.diagnostic(`${pushed.length} pushes fit; then ${failure.status} ${failure.error.code} "${failure.error.message}" ${JSON.stringify(failure.error.detail)} in ${failure.ms} ms`);
    assert.ok(failure.status >= 500 || failure.status === 413 || failure.status === 507, `a clear status for a full disk: ${failure.status}`);
    assert.doesNotMatch(failure.error.message, /^internal server error$/, 'the message says what happened');

    // A few more monolithic attempts while the disk is full: each answers, none publishes.
    const refused = [failedBlob];
    for (let i = 0; i < 3; i++) {
      const blob = randomBlob(BLOB_BYTES);
      const { value: res } = await bounded(`blob push while full ${i}`, client.pushBlob(repo, blob.data, blob.digest));
      const text = await res.text();
      if (res.status === 201) pushed.push(blob);
      else {
        assertSpecError(res.status, text, `blob push while full ${i}`);
        refused.push(blob);
      }
    }

    // A refused push gives back what it had written, so the space left may again hold something
    // small: take every page of it, so the next writes meet a disk that is really full.
    const rest = path.join(mnt!, 'filler-rest');
    await fillUp(rest);

    // A chunk of a chunked upload, and a manifest by tag (over blobs that are there): refused alike.
    {
      const { value: start } = await bounded('upload start while full', client.fetch(`/v2/${repo}/blobs/uploads/`, { method: 'POST' }));
      const startText = await start.text();
      if (start.status === 202) {
        const blob = randomBlob(BLOB_BYTES);
        const { value: res } = await bounded('chunk while full', client.patchChunk(start.headers.get('location')!, blob.data, 0));
        const text = await res.text();
        const error = assertSpecError(res.status, text, 'chunk while full');
        assert.ok(res.status >= 500, `a full disk is not the client's fault: ${res.status} ${text}`);
        t.diagnostic(`chunk while full: ${res.status} ${error.code} "${error.message}"`);
      } else {
        const error = assertSpecError(start.status, startText, 'upload start while full');
        assert.ok(start.status >= 500, `a full disk is not the client's fault: ${start.status} ${startText}`);
        t.diagnostic(`chunked upload start while full: ${start.status} ${error.code} "${error.message}"`);
      }
    }
    const manifest = ociImage({ layers: 1 });
    const manifestBody = Buffer.from(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: manifest.mediaType,
        config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: pushed[0]!.digest, size: pushed[0]!.data.length },
        layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', digest: pushed[1]!.digest, size: pushed[1]!.data.length }],
        annotations: { full: 'yes' },
      }),
    );
    {
      const { value: res } = await bounded('manifest push while full', client.pushManifest(repo, 'full', manifestBody, manifest.mediaType));
      const text = await res.text();
      t.diagnostic(`manifest push while full: ${res.status} ${text.slice(0, 200)}`);
      if (res.status !== 201) assertSpecError(res.status, text, 'manifest push while full');
      else assert.fail('a manifest push fitted on a full disk: the filler is too small for this check');
    }

    await drained(harness.registry);
    const tagsWhileFull = await client.fetch(`/v2/${repo}/tags/list`);
    const listed = tagsWhileFull.status === 200 ? ((await tagsWhileFull.json()) as { tags: string[] }).tags : [];
    assert.ok(!listed.includes('full'), `the refused manifest's tag is not listed: ${listed}`);
    assert.ok(!harness.receiver.events().some((e) => e.target.tag === 'full'), 'and has no event');
    const assertConsistent = async (label: string): Promise<void> => {
      // Every blob the registry serves reads back whole, with its digest.
      for (const blob of pushed) {
        const res = await client.fetch(`/v2/${repo}/blobs/${blob.digest}`);
        assert.equal(res.status, 200, `${label}: pushed blob ${blob.digest} is served`);
        const body = Buffer.from(await res.arrayBuffer());
        assert.equal(sha256(body), blob.digest, `${label}: pushed blob ${blob.digest} reads back whole`);
      }
      // A refused push is not published and has no event.
      const events = harness.receiver.events();
      for (const blob of refused) {
        const head = await client.fetch(`/v2/${repo}/blobs/${blob.digest}`, { method: 'HEAD' });
        assert.equal(head.status, 404, `${label}: the refused blob ${blob.digest} is not visible`);
        assert.ok(!events.some((e) => e.target.digest === blob.digest), `${label}: the refused blob has no event`);
      }
    };
    await assertConsistent('while full');

    // Space freed: pushes succeed again without a restart, the refused one too.
    await rm(filler);
    await rm(rest);
    t.diagnostic('filler removed');
    const later: string[] = [];
    for (const blob of [failedBlob, randomBlob(BLOB_BYTES), randomBlob(BLOB_BYTES)]) {
      const { value: res } = await bounded('blob push after freeing space', client.pushBlob(repo, blob.data, blob.digest));
      assert.equal(res.status, 201, `a push after space was freed: ${await res.text()}`);
      later.push(blob.digest);
    }
    refused.splice(0, 1);
    pushed.push(failedBlob);
    const image = await client.pushImage(repo, 'after', ociImage({ layers: 1 }));
    later.push(image.digest);
    await eventually(async () => {
      const seen = new Set(harness.receiver.events().map((e) => e.target.digest));
      return later.every((d) => seen.has(d));
    }, 'the events of pushes after recovery are delivered', 15_000);
    await drained(harness.registry);
    await assertConsistent('after recovery');
    t.diagnostic(`${pushed.length} blobs served whole with their digests, ${refused.length} refused and absent, ${later.length} pushes after recovery delivered`);
  });
});

/** Appends to `file` until the disk refuses (ENOSPC), 4 KiB at a time (tmpfs hands out pages), bounded. */
async function fillUp(file: string): Promise<void> {
  const handle = await open(file, 'a');
  try {
    const page = Buffer.alloc(4096, 2);
    for (let i = 0; i < 4096; i++) {
      try {
        const { bytesWritten } = await handle.write(page);
        if (bytesWritten === 0) return;
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ENOSPC') return;
        throw err;
      }
    }
    throw new Error('the disk did not fill within 16 MiB');
  } finally {
    await handle.close();
  }
}
