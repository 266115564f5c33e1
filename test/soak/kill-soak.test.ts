import assert from 'node:assert/strict';
import { randomInt } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Event } from '../../src/notify/event.ts';
import { ChildRegistry, freePort, writeConfig } from '../helpers/child-registry.ts';
import { sha256 } from '../helpers/oci.ts';
import { WebhookReceiver, eventsOf, ok } from '../helpers/receiver.ts';
import { endpoint, endpointState } from '../notify/support.ts';
import {
  MANIFEST_TYPES,
  RawClient,
  RepoModel,
  acked,
  listAll,
  pick,
  randomDelay,
  send,
  soakImage,
  type Op,
  type Outcome,
} from './soak-support.ts';

/**
 * The notification guarantee under random kill -9: four clients push (monolithic and chunked
 * uploads, manifests by tag and by digest, tag and manifest deletes) while the registry process is
 * killed with SIGKILL at random moments and restarted on the same storage. Afterwards every
 * acknowledged change is still there, every acknowledged operation has its event, and every tag
 * the registry shows has a push event: no state without an event.
 * SOAK_KILLS (default 12 in `npm test`, which must stay under 15 minutes on 2 cores: each
 * write step is also killed deterministically by the named failpoints of crash-points.test.ts;
 * run `SOAK_KILLS=100 SOAK_SECONDS=1800` for a long soak) kill points; SOAK_SECONDS (default
 * 480) bounds the kill phase.
 */
const KILLS = Number(process.env.SOAK_KILLS ?? 12);
/** The kill phase stops early past this (fewer kills: the test fails), so a stuck run cannot last for ever. */
const BUDGET_MS = Number(process.env.SOAK_SECONDS ?? 480) * 1000;
const CLIENTS = 4;
/** Longest wait, after a restart, for the clients to get an acknowledgement from the new process. */
const PROGRESS_WAIT_MS = 5_000;
/** After the last restart: how long the clients keep pushing against a process that stays up. */
const SETTLE_MS = 500;
const DRAIN_TIMEOUT_MS = 60_000;
/** The set of received event ids must stay the same this long (with nothing pending) to count as drained. */
const QUIET_MS = 1_000;

describe('notifications under random kill -9 of the registry', { timeout: 600_000 }, () => {
  it('keeps every acknowledged change and sends an event for every change the registry shows', async (t) => {
    const work = await mkdtemp(path.join(tmpdir(), 'dockyard-kill-soak-'));
    t.after(() => rm(work, { recursive: true, force: true }));
    const receiver = await WebhookReceiver.start(ok);
    t.after(() => receiver.close());
    const port = await freePort();
    const file = await writeConfig(work, {
      version: 0.1,
      log: { level: 'error' },
      http: { addr: `127.0.0.1:${port}` },
      storage: { filesystem: { rootdirectory: path.join(work, 'storage') }, delete: { enabled: true } },
      notifications: { endpoints: [endpoint(receiver)] },
    });
    let registry = await ChildRegistry.start(file, port);
    t.after(() => registry.kill());
    const base = registry.url;

    // The gate the clients wait at after a dropped request: closed just before a kill, opened once
    // the restarted process answers.
    let ready: Promise<void> = Promise.resolve();
    let open: () => void = () => undefined;
    let stopping = false;
    let ackCount = 0;
    const ops: Op[] = [];
    const models = Array.from({ length: CLIENTS }, () => new RepoModel());
    /** Config blobs, never reused as layers. */
    const configs = new Set<string>();

    function record(op: Omit<Op, 'acked' | 'failure'>, o: Outcome): boolean {
      const ok = acked(o);
      const failure = ok ? undefined : o.kind === 'dropped' ? o.reason : `HTTP ${o.status} ${o.body.toString('utf8').slice(0, 200)}`;
      ops.push({ ...op, acked: ok, ...(failure !== undefined ? { failure } : {}) });
      if (ok) ackCount++;
      return ok;
    }

    /** One image push, maybe followed by a delete. Returns the last outcome when something was not acknowledged. */
    async function iteration(client: number, raw: RawClient, iter: number): Promise<Outcome | undefined> {
      const repository = `soak/c${client}`;
      const model = models[client]!;
      // A fresh config and zero to two fresh layers; often an acknowledged layer again, so that
      // manifest pushes and deletes (where tags change) come often between kills.
      const reusable = pick([...model.blobs].filter(([digest]) => !configs.has(digest)));
      const reuse = reusable && Math.random() < 0.6 ? [{ digest: reusable[0], size: reusable[1] }] : [];
      const image = soakImage(reuse.length > 0 ? randomInt(0, 2) : randomInt(1, 3), reuse);
      configs.add(image.config.digest);
      for (const blob of [image.config, ...image.layers]) {
        const r = Math.random();
        const mode = r < 0.45 ? 'chunked' : r < 0.9 ? 'monolithic' : 'single-post';
        const o =
          mode === 'chunked'
            ? await raw.pushChunked(repository, blob, randomInt(2, 5))
            : mode === 'monolithic'
              ? await raw.pushMonolithic(repository, blob)
              : await raw.pushSinglePost(repository, blob);
        if (!record({ client, kind: 'blob', repository, digest: blob.digest, mode }, o)) return o;
        model.blobs.set(blob.digest, blob.data.length);
      }

      const r = Math.random();
      const existing = pick(model.presentTags());
      const tag = r < 0.2 && existing ? existing[0] : r < 0.3 ? undefined : `v${iter}`;
      const put = await raw.putManifest(repository, tag ?? image.manifest.digest, image.manifest);
      const pushed = record({ client, kind: tag === undefined ? 'manifest-digest' : 'manifest-tag', repository, digest: image.manifest.digest, ...(tag !== undefined ? { tag } : {}) }, put);
      model.pushedManifest(image.manifest.digest, tag, pushed);
      if (!pushed) return put;

      const d = Math.random();
      if (d < 0.15) {
        const victim = pick(model.presentTags());
        if (victim) {
          const o = await raw.deleteManifest(repository, victim[0]);
          const done = record({ client, kind: 'delete-tag', repository, tag: victim[0] }, o);
          model.deletedTag(victim[0], done);
          if (!done) return o;
        }
      } else if (d < 0.25) {
        const victim = pick(model.presentManifests());
        if (victim) {
          const o = await raw.deleteManifest(repository, victim);
          const done = record({ client, kind: 'delete-manifest', repository, digest: victim }, o);
          model.deletedManifest(victim, done);
          if (!done) return o;
        }
      }
      return undefined;
    }

    async function runClient(client: number): Promise<void> {
      const raw = new RawClient(base);
      for (let iter = 1; !stopping; iter++) {
        const failed = await iteration(client, raw, iter);
        if (failed?.kind === 'dropped') await ready; // the process died: wait for the next one
        else if (failed) await sleep(20);
      }
    }

    const clients = Array.from({ length: CLIENTS }, (_, i) => runClient(i));
    const started = Date.now();
    let kills = 0;
    const restartMs: number[] = [];
    const firstAckMs: number[] = [];
    /** Waits (boundedly) until some client has an acknowledgement from the current process. */
    async function progress(): Promise<void> {
      const acksAtStart = ackCount;
      const from = Date.now();
      while (ackCount === acksAtStart && Date.now() - from < PROGRESS_WAIT_MS) await sleep(10);
      firstAckMs.push(Date.now() - from);
    }
    try {
      for (; kills < KILLS && Date.now() - started < BUDGET_MS; kills++) {
        await progress();
        await randomDelay(50, 400);
        ready = new Promise<void>((resolve) => (open = resolve));
        await registry.kill();
        const from = Date.now();
        registry = await ChildRegistry.start(file, port);
        restartMs.push(Date.now() - from);
        open();
      }
      await progress();
      await sleep(SETTLE_MS);
    } finally {
      stopping = true;
      open();
      await Promise.all(clients);
    }
    const soakMs = Date.now() - started;

    // Drained: nothing pending at the endpoint, and no new event id for QUIET_MS.
    const drainStart = Date.now();
    let lastIds = -1;
    let quietSince = Date.now();
    for (;;) {
      const ids = new Set(receiver.events().map((e) => e.id)).size;
      const pending = (await endpointState(registry)).pending;
      if (ids !== lastIds || pending !== 0) {
        lastIds = ids;
        quietSince = Date.now();
      } else if (Date.now() - quietSince >= QUIET_MS) {
        break;
      }
      if (Date.now() - drainStart > DRAIN_TIMEOUT_MS) {
        assert.fail(`not drained after ${DRAIN_TIMEOUT_MS} ms: ${pending} pending, ${ids} distinct events received`);
      }
      await sleep(100);
    }
    const deadLetters = (await endpointState(registry)).deadLetters;

    // A snapshot: the pull events of the checks below come after it and play no part.
    const deliveries = receiver.accepted().length;
    const events: Event[] = receiver.accepted().flatMap((r) => eventsOf(r));
    const seen = new Map<string, number>();
    for (const e of events) seen.set(e.id, (seen.get(e.id) ?? 0) + 1);
    const duplicateIds = [...seen.values()].filter((n) => n > 1).length;
    const duplicateDeliveries = events.length - seen.size;

    const pushedBlobs = new Set<string>();
    const pushedTags = new Set<string>();
    const pushedManifests = new Set<string>();
    const deletedTags = new Set<string>();
    const deletedDigests = new Set<string>();
    for (const e of events) {
      const { repository, digest, tag, mediaType } = e.target;
      if (e.action === 'push' && digest !== undefined) {
        if (!MANIFEST_TYPES.has(mediaType ?? '')) pushedBlobs.add(`${repository}@${digest}`);
        else {
          pushedManifests.add(`${repository}@${digest}`);
          if (tag !== undefined) pushedTags.add(`${repository}:${tag}@${digest}`);
        }
      } else if (e.action === 'delete') {
        if (tag !== undefined) deletedTags.add(`${repository}:${tag}`);
        if (digest !== undefined) deletedDigests.add(`${repository}@${digest}`);
      }
    }

    // 1. What was acknowledged (and not deleted since by an acknowledged delete) is intact.
    const lost: string[] = [];
    let blobsChecked = 0;
    let manifestsChecked = 0;
    for (const [client, model] of models.entries()) {
      const repository = `soak/c${client}`;
      for (const digest of model.blobs.keys()) {
        blobsChecked++;
        const problem = await contentProblem(`${base}/v2/${repository}/blobs/${digest}`, digest);
        if (problem) lost.push(`blob ${repository}@${digest}: ${problem}`);
      }
      for (const digest of model.presentManifests()) {
        manifestsChecked++;
        const problem = await contentProblem(`${base}/v2/${repository}/manifests/${digest}`, digest);
        if (problem) lost.push(`manifest ${repository}@${digest}: ${problem}`);
      }
      for (const [tag, digest] of model.presentTags()) {
        const problem = await contentProblem(`${base}/v2/${repository}/manifests/${tag}`, digest);
        if (problem) lost.push(`tag ${repository}:${tag} (expected ${digest}): ${problem}`);
      }
      const listed = new Set(await listAll(base, `/v2/${repository}/tags/list`, 'tags'));
      for (const [tag, known] of model.tags) {
        if (known.state === 'absent' && listed.has(tag)) lost.push(`tag ${repository}:${tag} was deleted (acknowledged) but is listed`);
      }
      for (const [digest, known] of model.manifests) {
        if (known.state !== 'absent') continue;
        const o = await send(`${base}/v2/${repository}/manifests/${digest}`);
        if (o.kind !== 'answered' || o.status !== 404) {
          lost.push(`manifest ${repository}@${digest} was deleted (acknowledged) but GET answers ${o.kind === 'answered' ? o.status : o.reason}`);
        }
      }
    }

    /** What the client knows of the push that made `repository:tag@digest`. */
    function howPushed(key: string): string {
      const op = ops.find((o) => o.kind === 'manifest-tag' && `${o.repository}:${o.tag}@${o.digest}` === key);
      if (!op) return 'no client pushed it';
      return op.acked ? 'push acknowledged' : `push not acknowledged: ${op.failure}`;
    }

    // 2 and 4. Every tag the registry shows resolves, and has a push event for that repository, tag and digest.
    const broken: string[] = [];
    const withoutEvent: string[] = [];
    let tagsChecked = 0;
    for (const repository of await listAll(base, '/v2/_catalog', 'repositories')) {
      for (const tag of await listAll(base, `/v2/${repository}/tags/list`, 'tags')) {
        tagsChecked++;
        const o = await send(`${base}/v2/${repository}/manifests/${tag}`, { headers: { accept: [...MANIFEST_TYPES].join(', ') } });
        if (o.kind !== 'answered' || o.status !== 200) {
          broken.push(`${repository}:${tag}: ${o.kind === 'answered' ? `HTTP ${o.status}` : o.reason}`);
          continue;
        }
        const digest = o.headers.get('docker-content-digest');
        if (digest !== sha256(o.body)) broken.push(`${repository}:${tag}: Docker-Content-Digest ${digest} but the body hashes to ${sha256(o.body)}`);
        const key = `${repository}:${tag}@${sha256(o.body)}`;
        if (!pushedTags.has(key)) withoutEvent.push(`${key} (${howPushed(key)})`);
      }
    }

    // 3. Every acknowledged operation has its event.
    const acknowledged = ops.filter((op) => op.acked);
    const missing: string[] = [];
    for (const op of acknowledged) {
      const found =
        op.kind === 'blob'
          ? pushedBlobs.has(`${op.repository}@${op.digest}`)
          : op.kind === 'manifest-tag'
            ? pushedTags.has(`${op.repository}:${op.tag}@${op.digest}`)
            : op.kind === 'manifest-digest'
              ? pushedManifests.has(`${op.repository}@${op.digest}`)
              : op.kind === 'delete-tag'
                ? deletedTags.has(`${op.repository}:${op.tag}`)
                : deletedDigests.has(`${op.repository}@${op.digest}`);
      if (!found) missing.push(`${op.kind}${op.mode ? ` (${op.mode})` : ''} ${op.repository}${op.tag !== undefined ? `:${op.tag}` : ''}${op.digest ? `@${op.digest}` : ''}`);
    }

    const rejected = ops.filter((op) => !op.acked && op.failure?.startsWith('HTTP'));
    const byKind = (kind: string): string => `${acknowledged.filter((op) => op.kind === kind).length}/${ops.filter((op) => op.kind === kind).length}`;
    const cut = kills < KILLS ? ` (of ${KILLS}: the ${BUDGET_MS / 1000} s budget ran out)` : '';
    t.diagnostic(`kills: ${kills}${cut} in ${(soakMs / 1000).toFixed(1)} s; drained in ${((Date.now() - drainStart) / 1000).toFixed(1)} s`);
    t.diagnostic(`restart to GET /v2/ answering: median ${median(restartMs)} ms, max ${Math.max(0, ...restartMs)} ms; restart to first acknowledgement: median ${median(firstAckMs)} ms, max ${Math.max(0, ...firstAckMs)} ms`);
    t.diagnostic(`ops acknowledged: ${acknowledged.length} of ${ops.length} attempted (blob ${byKind('blob')}, manifest by tag ${byKind('manifest-tag')}, by digest ${byKind('manifest-digest')}, tag delete ${byKind('delete-tag')}, manifest delete ${byKind('delete-manifest')}); dropped by a kill: ${ops.length - acknowledged.length - rejected.length}; answered non-2xx: ${rejected.length}`);
    if (rejected.length > 0) t.diagnostic(`non-2xx answers, e.g.: ${rejected.slice(0, 3).map((op) => `${op.kind} ${op.failure}`).join(' | ')}`);
    t.diagnostic(`events received: ${seen.size} distinct in ${events.length} (${deliveries} deliveries); dead letters: ${deadLetters}`);
    t.diagnostic(`duplicates: ${duplicateDeliveries} extra deliveries of ${duplicateIds} event ids (allowed: at-least-once)`);
    t.diagnostic(`blobs checked: ${blobsChecked}; manifests checked: ${manifestsChecked}; tags checked: ${tagsChecked}`);
    t.diagnostic(`lost acknowledged state: ${lost.length}; broken tags: ${broken.length}; acknowledged ops without event: ${missing.length}; state without event: ${withoutEvent.length}`);

    await t.test(`0. the registry was killed ${KILLS} times`, () => {
      assert.equal(kills, KILLS, `only ${kills} kills within ${BUDGET_MS / 1000} s`);
    });
    await t.test('1. every acknowledged blob, manifest and tag is intact, and acknowledged deletes stick', () => {
      assert.deepEqual(lost, [], `${lost.length} acknowledged changes lost:\n${lost.slice(0, 20).join('\n')}`);
    });
    await t.test('2. every tag in every repository of the catalog resolves to a manifest with its digest', () => {
      assert.ok(tagsChecked > 0, 'the registry shows no tags at all');
      assert.deepEqual(broken, [], `${broken.length} tags do not resolve:\n${broken.slice(0, 20).join('\n')}`);
    });
    await t.test('3. every acknowledged operation has its event', () => {
      assert.deepEqual(missing, [], `${missing.length} acknowledged operations without event:\n${missing.slice(0, 20).join('\n')}`);
    });
    await t.test('4. state without event = 0: every tag shown has a push event for its repository, tag and digest', () => {
      assert.deepEqual(withoutEvent, [], `${withoutEvent.length} tags the registry shows without a push event (repository:tag@digest):\n${withoutEvent.join('\n')}`);
    });
  });
});

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? 0;
}

/** GETs `url`; undefined when it answers 200 with a body hashing to `digest`, else what is wrong. */
async function contentProblem(url: string, digest: string): Promise<string | undefined> {
  const o = await send(url, { headers: { accept: [...MANIFEST_TYPES].join(', ') } });
  if (o.kind !== 'answered') return `no answer (${o.reason})`;
  if (o.status !== 200) return `HTTP ${o.status} ${o.body.toString('utf8').slice(0, 120)}`;
  const got = sha256(o.body);
  return got === digest ? undefined : `body hashes to ${got}`;
}
