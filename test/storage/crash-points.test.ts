import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, it, type TestContext } from 'node:test';
import { JournalFailpoints } from '../../src/notify/events/event-journal.ts';
import { Failpoints } from '../../src/storage/failpoints.ts';
import { ChildRegistry, freePort, writeConfig } from '../helpers/child-registry.ts';
import { Client } from '../helpers/client.ts';
import { WebhookReceiver, eventsOf, ok } from '../helpers/receiver.ts';
import { drained, endpoint } from '../notify/support.ts';
import { checkFacts, checkStore } from './crash-checks.ts';
import {
  blobChunked,
  blobDelete,
  blobMonolithic,
  manifestDelete,
  manifestPush,
  mount,
  tagDelete,
  Known,
  type CrashCase,
  type Operation,
} from './crash-operations.ts';

/**
 * Every crash point, deterministically: the registry runs as a child process with
 * DOCKYARD_FAILPOINTS set, the operation that reaches the failpoint kills it there (SIGKILL), and
 * a registry started again on the same storage must show a consistent store (everything listed
 * is readable, every blob has its digest, nothing half-written is served), must have delivered
 * the events of exactly what the interrupted request did (what the store shows has its event,
 * what it does not show has none; every tag it lists has a push event for that tag and digest),
 * and must accept a retry of the interrupted operation.
 *
 * The failpoints are the storage steps of each write path (src/storage/failpoints.ts) and the
 * journal's (an intent recorded before the change, the events committed before the answer).
 * Each case needs two process starts (the armed one that dies, and the clean one that checks,
 * retries and prepares the next case), so the cases run in a few chains side by side.
 */

const F = Failpoints;
const J = JournalFailpoints;
const tagged = manifestPush(true);
const byDigest = manifestPush(false, true);
const mono = blobMonolithic;
/**
 * The cases, in chains that run side by side (each on its own storage and port). Within a chain,
 * the registry armed for a case first checks the store and retries the previous case, unless
 * that retry would pass its failpoint (then a clean registry does it): order them so that
 * neighbours differ. Driver failpoints (`storage.fs.*`, hit by every write) always get a clean
 * one; journal failpoints are per kind of change, so only a retry of that kind passes them.
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
  [
    // Every kind of change between its intent and its change, and between its events and its answer.
    { failpoint: `${J.intentRecorded}.blob.push`, op: mono },
    { failpoint: `${J.eventsCommitted}.manifest.push`, op: byDigest },
    { failpoint: `${J.intentRecorded}.blob.mount`, op: mount },
    { failpoint: `${J.eventsCommitted}.blob.push`, op: blobChunked },
    { failpoint: `${J.intentRecorded}.manifest.push`, op: tagged },
    { failpoint: `${J.eventsCommitted}.manifest.delete`, op: manifestDelete() },
    { failpoint: `${J.intentRecorded}.tag.delete`, op: tagDelete },
    { failpoint: `${J.eventsCommitted}.blob.delete`, op: blobDelete },
    { failpoint: `${J.intentRecorded}.manifest.delete`, op: manifestDelete() },
    { failpoint: `${J.eventsCommitted}.blob.mount`, op: mount },
    { failpoint: `${J.intentRecorded}.blob.delete`, op: blobDelete },
    { failpoint: `${J.eventsCommitted}.tag.delete`, op: tagDelete },
    { failpoint: `${J.intentRecorded}.blob.push`, op: blobChunked },
    { failpoint: `${J.eventsCommitted}.manifest.push`, op: tagged },
    { failpoint: `${J.eventsCommitted}.blob.push`, op: mono },
    { failpoint: `${J.intentRecorded}.manifest.push`, op: byDigest },
  ],
] as CrashCase[][];

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
/** Every failpoint a run or retry of `op` passes: its storage steps and its kind's journal steps. */
const passes = (op: Operation<never>): string[] => [...op.passes, `${J.intentRecorded}.${op.kind}`, `${J.eventsCommitted}.${op.kind}`];

async function runChain(t: TestContext, cases: CrashCase[]): Promise<void> {
  const dir = await mkdtemp(path.join(tmpdir(), 'dockyard-crash-'));
  const root = path.join(dir, 'data');
  const port = await freePort();
  const receiver = await WebhookReceiver.start(ok);
  const config = await writeConfig(dir, {
    log: { level: 'error' },
    http: { addr: `127.0.0.1:${port}` },
    storage: { filesystem: { rootdirectory: root }, maintenance: { uploadpurging: { enabled: false } } },
    notifications: { endpoints: [endpoint(receiver)] },
  });
  let facts = 0;
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
  /** Every event delivered so far (once the registry has nothing pending). */
  const delivered = async (r: ChildRegistry) => {
    await drained(r, 'hook', 15_000);
    return receiver.requests.flatMap(eventsOf);
  };
  /**
   * After a restart: the store is consistent, it has the events of what the interrupted request
   * did and no others, and the interrupted operation succeeds when retried.
   */
  const settle = (r: ChildRegistry, p: Pending) =>
    t.test(`${p.k.op.name}, killed at ${p.k.failpoint}: after the restart store and events agree and a retry succeeds`, async () => {
      const c = new Client(r.url);
      const events = await delivered(r);
      await checkStore(c, root, known, events);
      facts += await checkFacts(c, (p.k.op as Operation<unknown>).facts(p.s), events);
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
      if (pending && (k.failpoint.startsWith('storage.fs.') || passes(pending.k.op).includes(nameOf(k.failpoint)))) {
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
    const events = await delivered(last);
    const figures = await checkStore(new Client(last.url), root, known, events);
    await stop(last);
    const ids = events.map((e) => e.id);
    t.diagnostic(
      `${cases.length} kill points, ${starts} process starts; at the end ${figures.repositories} repositories, ${figures.tags} tags ` +
        `(each with its push event), ${figures.blobs} blobs of listed manifests and ${known.blobs.size} acknowledged blobs checked; ` +
        `${facts} interrupted outcomes found in the store, each with its event; ${events.length} events, ` +
        `${ids.length - new Set(ids).size} duplicate deliveries`,
    );
  } finally {
    for (const r of live) await r.kill().catch(() => undefined);
    await receiver.close();
    await rm(dir, { recursive: true, force: true });
  }
}

describe('crash at every failpoint of every write', { concurrency: CHAINS.length }, () => {
  CHAINS.forEach((cases, i) => {
    it(`chain ${i + 1} (${cases.length} kill points)`, (t) => runChain(t, cases));
  });
});
