import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { THREAD_FAILPOINTS_ENV } from '../../src/notify/threads/thread-failpoint.ts';
import { randomBlob } from '../helpers/oci.ts';
import { drained, eventually, NotifyClient, startWithReceiver, type StartedHarness } from './support.ts';

/**
 * The notification threads die mid-load (a thread failpoint ends just that thread, the way a
 * crash in it would): no request hangs, each either succeeds or gets a 503 with a spec error
 * body, the thread comes back, and every event of an acknowledged push is delivered.
 */

/** How long any one request may take while a thread is down. */
const REQUEST_BOUND_MS = 5_000;

interface Outcome {
  status: number;
  digest: string;
  ms: number;
}

/** Starts a registry whose threads get `failpoints` (read once, when notifications start). */
async function startWithFailpoints(failpoints: string): Promise<StartedHarness> {
  process.env[THREAD_FAILPOINTS_ENV] = failpoints;
  try {
    return await startWithReceiver();
  } finally {
    delete process.env[THREAD_FAILPOINTS_ENV];
  }
}

/** Pushes `count` blobs from each of `clients` clients at once; every answer is a 201 or a spec 503. */
async function pushLoad(h: StartedHarness, clients: number, count: number, repo: string): Promise<Outcome[]> {
  const outcomes: Outcome[] = [];
  await Promise.all(
    Array.from({ length: clients }, async (_, c) => {
      const client = new NotifyClient(h.registry.url);
      for (let i = 0; i < count; i++) {
        const blob = randomBlob(64 + i);
        const started = performance.now();
        const res = await Promise.race([
          client.pushBlob(`${repo}/c${c}`, blob.data, blob.digest),
          sleep(REQUEST_BOUND_MS).then(() => assert.fail(`a push hung for ${REQUEST_BOUND_MS} ms`)),
        ]);
        const ms = performance.now() - started;
        const body = await res.text();
        if (res.status === 503) assertUnavailableBody(body);
        else assert.equal(res.status, 201, `push answered ${res.status}: ${body.slice(0, 300)}`);
        outcomes.push({ status: res.status, digest: blob.digest, ms });
        if (res.status === 503) await sleep(50); // as a client backing off would: the load spans the restart
      }
    }),
  );
  return outcomes;
}

/**
 * The error body, with the code, a message and a detail naming the thread: the OCI API says
 * UNSUPPORTED (the spec has no code for a fault, the 503 says what happened), the operator API its
 * own UNAVAILABLE.
 */
function assertUnavailableBody(text: string, code: 'UNSUPPORTED' | 'UNAVAILABLE' = 'UNSUPPORTED'): void {
  const body = JSON.parse(text) as { errors: { code: string; message: string; detail?: { thread?: string } }[] };
  assert.equal(body.errors.length, 1, text);
  const [error] = body.errors;
  assert.equal(error!.code, code);
  assert.match(error!.message, /thread|outbox/);
  assert.ok(error!.detail?.thread, `the 503 says which thread: ${text}`);
}

/** Polls /readyz until `stop` says so; returns every status seen. */
function watchReadiness(url: string): { stop(): Promise<number[]> } {
  const seen: number[] = [];
  let running = true;
  const loop = (async () => {
    while (running) {
      const res = await fetch(new URL('/readyz', url), { signal: AbortSignal.timeout(REQUEST_BOUND_MS) });
      await res.arrayBuffer();
      seen.push(res.status);
      await sleep(5);
    }
  })();
  return {
    async stop() {
      running = false;
      await loop;
      return seen;
    },
  };
}

async function readiness(url: string): Promise<{ status: number; body: { status: string; notifications: Record<string, unknown> } }> {
  const res = await fetch(new URL('/readyz', url));
  return { status: res.status, body: (await res.json()) as { status: string; notifications: Record<string, unknown> } };
}

/** Every acknowledged push has its event at the receiver (duplicates allowed: at least once). */
async function assertDelivered(h: StartedHarness, acknowledged: string[]): Promise<void> {
  await eventually(async () => {
    const seen = new Set(h.receiver.events().map((e) => e.target.digest));
    return acknowledged.every((d) => seen.has(d));
  }, 'every acknowledged push is delivered', 15_000);
}

describe('the outbox writer thread dies mid-load', { timeout: 60_000 }, () => {
  let h: StartedHarness;
  // The writer dies before its 10th commit, in its first two incarnations: twice under load.
  before(async () => {
    h = await startWithFailpoints('outbox.writer.commit@10*2');
  });
  after(() => h?.stop());

  it('fails the pushes that needed it fast with 503, restarts it, and loses no acknowledged event', async (t) => {
    const watch = watchReadiness(h.registry.url);
    const outcomes = await pushLoad(h, 4, 15, 'writer');
    const statuses = await watch.stop();
    const failed = outcomes.filter((o) => o.status === 503);
    const acknowledged = outcomes.filter((o) => o.status === 201).map((o) => o.digest);
    t.diagnostic(
      `${outcomes.length} pushes: ${acknowledged.length} acknowledged, ${failed.length} refused with 503; slowest ${Math.max(...outcomes.map((o) => o.ms))} ms, slowest 503 ${Math.max(...failed.map((o) => o.ms))} ms`,
    );
    assert.ok(failed.length > 0, 'some pushes met the dead writer');
    assert.ok(acknowledged.length > 0, 'the others succeeded');
    assert.ok(Math.max(...outcomes.map((o) => o.ms)) < REQUEST_BOUND_MS);
    assert.ok(statuses.includes(503), `/readyz answered 503 while the writer was down (saw ${[...new Set(statuses)]})`);

    await eventually(async () => (await readiness(h.registry.url)).status === 200, 'the writer is back', 10_000);
    const ready = await readiness(h.registry.url);
    assert.equal(ready.body.status, 'ok');
    assert.equal(ready.body.notifications.writer, 'up');
    assert.deepEqual(ready.body.notifications.restarts, { writer: 2, delivery: 0 });

    // Later pushes succeed, and their events are delivered along with every acknowledged one.
    const later = await pushLoad(h, 2, 5, 'writer-after');
    assert.ok(later.every((o) => o.status === 201), 'every push after the restart succeeds');
    await assertDelivered(h, [...acknowledged, ...later.map((o) => o.digest)]);
    await drained(h.registry);
    t.diagnostic(`${acknowledged.length + later.length} acknowledged pushes, all delivered; /readyz polled ${statuses.length} times, ${statuses.filter((s) => s === 503).length} answered 503`);
  });
});

describe('the delivery thread dies mid-load', { timeout: 60_000 }, () => {
  let h: StartedHarness;
  // Delivery dies right after its 5th delivery (before recording it), in its first two incarnations.
  before(async () => {
    h = await startWithFailpoints('delivery.delivered@5*2');
  });
  after(() => h?.stop());

  it('keeps pushes succeeding, answers admin calls fast, and resumes delivery with nothing lost', async (t) => {
    const watch = watchReadiness(h.registry.url);
    const admin: number[] = [];
    let loading = true;
    const adminLoop = (async () => {
      while (loading) {
        const started = performance.now();
        const res = await fetch(new URL('/notifications/endpoints', h.registry.url), { signal: AbortSignal.timeout(REQUEST_BOUND_MS) });
        const text = await res.text();
        if (res.status === 503) assertUnavailableBody(text, 'UNAVAILABLE');
        else assert.equal(res.status, 200, text);
        assert.ok(performance.now() - started < REQUEST_BOUND_MS);
        admin.push(res.status);
        await sleep(5);
      }
    })();
    const outcomes = await pushLoad(h, 4, 10, 'delivery');
    await eventually(async () => (await readiness(h.registry.url)).status === 200 && h.receiver.events().length >= 40, 'delivery is back', 15_000);
    loading = false;
    await adminLoop;
    const statuses = await watch.stop();

    assert.ok(outcomes.every((o) => o.status === 201), 'a dead delivery thread fails no push');
    assert.ok(admin.includes(503), `an admin call met the dead delivery thread (saw ${[...new Set(admin)]})`);
    assert.ok(statuses.includes(503), `/readyz answered 503 while delivery was down (saw ${[...new Set(statuses)]})`);
    await assertDelivered(h, outcomes.map((o) => o.digest));
    await drained(h.registry);
    const ready = await readiness(h.registry.url);
    assert.deepEqual(ready.body.notifications.restarts, { writer: 0, delivery: 2 });
    // At least once: an event delivered but not yet recorded when the thread died goes again
    // (with its id, the consumer's idempotency key). Acknowledgements ride the next group commit,
    // so a death can cost a few.
    const ids = h.receiver.events().map((e) => e.id);
    const duplicates = ids.length - new Set(ids).size;
    t.diagnostic(`${ids.length} deliveries of ${new Set(ids).size} events: ${duplicates} duplicates after 2 deaths`);
    assert.ok(duplicates <= 10, `few redeliveries (${duplicates})`);
  });

  it('shuts down within its deadline', async () => {
    const started = performance.now();
    await h.stop();
    assert.ok(performance.now() - started < 12_000);
    h = undefined as unknown as StartedHarness;
  });
});

describe('a stuck outbox writer thread', { timeout: 60_000 }, () => {
  let h: StartedHarness;
  // The writer's event loop blocks for good at its 3rd commit (spinning, as an endless loop would).
  before(async () => {
    h = await startWithFailpoints('outbox.writer.commit@3:hang');
  });
  after(() => h?.stop());

  it('fails the push waiting on it with 503 at the commit deadline, is replaced, and later pushes succeed', async () => {
    // The writer's commits include the delivery thread's bookkeeping, so which push meets the
    // stuck commit is not known in advance: push a few in a row. Timed on the monotonic clock
    // (this file throughout): the VM's wall clock once stepped 7 s during this test.
    const outcomes: Outcome[] = [];
    const pushing = (async () => {
      for (let i = 0; i < 4; i++) {
        const blob = randomBlob(100 + i);
        const started = performance.now();
        const res = await h.client.pushBlob('stuck/app', blob.data, blob.digest);
        const text = await res.text();
        if (res.status === 503) assertUnavailableBody(text);
        else assert.equal(res.status, 201, text);
        outcomes.push({ status: res.status, digest: blob.digest, ms: performance.now() - started });
      }
    })();
    // Readiness sees it long before the commit deadline: the outbox takes no write.
    await eventually(async () => {
      const ready = await readiness(h.registry.url);
      return ready.status === 503 && ready.body.notifications.outbox === 'error';
    }, '/readyz reports the outbox failing', 5_000);
    await pushing;
    // One push waits for the stuck commit until its deadline; pushes made while the replacement
    // starts are refused at once.
    const failed = outcomes.filter((o) => o.status === 503);
    const atDeadline = failed.filter((o) => o.ms >= 9_000 && o.ms < 12_000);
    assert.equal(atDeadline.length, 1, `one push answered at the 10 s commit deadline: ${JSON.stringify(outcomes)}`);
    assert.ok(failed.every((o) => o === atDeadline[0] || o.ms < 1_000), `the others failed fast: ${JSON.stringify(outcomes)}`);
    const acknowledged = outcomes.filter((o) => o.status === 201).map((o) => o.digest);

    await eventually(async () => (await readiness(h.registry.url)).status === 200, 'a new writer took over', 5_000);
    for (let i = 0; i < 3; i++) {
      const later = randomBlob(300 + i);
      assert.equal((await h.client.pushBlob('stuck/app', later.data, later.digest)).status, 201);
      acknowledged.push(later.digest);
    }
    await assertDelivered(h, acknowledged);
  });
});

describe('a stuck delivery thread', { timeout: 60_000 }, () => {
  let h: StartedHarness | undefined;
  before(async () => {
    h = await startWithFailpoints('delivery.delivered@2:hang');
  });
  after(() => h?.stop());

  it('is reported by /readyz within its deadline, and does not keep close() from finishing', async () => {
    const harness = h!;
    for (let i = 0; i < 3; i++) {
      const blob = randomBlob(100 + i);
      assert.equal((await harness.client.pushBlob('stuck/delivery', blob.data, blob.digest)).status, 201, 'pushes do not need delivery');
    }
    await harness.receiver.waitForRequests(2);
    await sleep(50);
    const started = performance.now();
    const ready = await readiness(harness.registry.url);
    assert.ok(performance.now() - started < 3_000, 'readiness has a deadline');
    assert.equal(ready.status, 503);
    assert.equal(ready.body.notifications.delivery, 'down');

    const closing = performance.now();
    h = undefined;
    await harness.stop();
    assert.ok(performance.now() - closing < 12_000, `close() finished within its deadline (${performance.now() - closing} ms)`);
  });
});

describe('readiness', { timeout: 30_000 }, () => {
  it('/healthz answers while the process runs, /readyz reports both threads and the outbox', async () => {
    const h = await startWithReceiver();
    try {
      const health = await fetch(new URL('/healthz', h.registry.url));
      assert.equal(health.status, 200);
      assert.deepEqual(await health.json(), { status: 'ok' });
      const ready = await readiness(h.registry.url);
      assert.equal(ready.status, 200);
      assert.deepEqual(ready.body, {
        status: 'ok',
        storage: { state: 'reachable' },
        notifications: {
          writer: 'up',
          delivery: 'up',
          outbox: 'writable',
          restarts: { writer: 0, delivery: 0 },
          errors: { writer: null, delivery: null, outbox: null },
        },
      });
    } finally {
      await h.stop();
    }
  });
});
