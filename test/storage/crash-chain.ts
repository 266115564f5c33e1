import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { TestContext } from 'node:test';
import { JournalFailpoints } from '../../src/notify/events/event-journal.ts';
import { ChildRegistry, freePort, writeConfig } from '../helpers/child-registry.ts';
import { Client } from '../helpers/client.ts';
import { WebhookReceiver, eventsOf, ok } from '../helpers/receiver.ts';
import { drained, endpoint } from '../notify/support.ts';
import { checkFacts, checkStore } from './crash-checks.ts';
import { Known, type CrashCase, type Operation } from './crash-operations.ts';

const J = JournalFailpoints;

/** Where a chain keeps its data, and how to check it beneath the API after each restart. */
export interface ChainStorage {
  /** The config's `storage` section (uploads are never purged during a chain). */
  storage: Record<string, unknown>;
  /** The config's `notifications.outbox`, where the driver has no place for it. */
  outbox?: Record<string, unknown>;
  /** Checks what the driver holds: every link in its directory, every blob its digest. */
  checkFiles(): Promise<void>;
}

/** The request gets no answer: the registry died at the failpoint. */
export async function dies(registry: ChildRegistry, failpoint: string, request: Promise<Response>): Promise<void> {
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

export const nameOf = (failpoint: string) => failpoint.split('@')[0]!;
/** Every failpoint a run or retry of `op` passes: its storage steps and its kind's journal steps. */
const passes = (op: Operation<never>): string[] => [...op.passes, `${J.intentRecorded}.${op.kind}`, `${J.eventsCommitted}.${op.kind}`];

/**
 * Runs the cases one after another on one storage (see crash-points.test.ts): each armed
 * registry dies at its case's failpoint; the next registry started checks the store and the
 * delivered events against what the interrupted request did, and retries it.
 */
export async function runChain(t: TestContext, cases: CrashCase[], storage: (dir: string) => Promise<ChainStorage>): Promise<void> {
  const dir = await mkdtemp(path.join(tmpdir(), 'dockyard-crash-'));
  const port = await freePort();
  const receiver = await WebhookReceiver.start(ok);
  const where = await storage(dir);
  const config = await writeConfig(dir, {
    log: { level: 'error' },
    http: { addr: `127.0.0.1:${port}` },
    storage: { ...where.storage, maintenance: { uploadpurging: { enabled: false } } },
    notifications: { endpoints: [endpoint(receiver)], ...(where.outbox ? { outbox: where.outbox } : {}) },
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
      await checkStore(c, where.checkFiles, known, events);
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
    const figures = await checkStore(new Client(last.url), where.checkFiles, known, events);
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
