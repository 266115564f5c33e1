import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { startTestRegistry, type TestRegistry } from '../helpers/registry.ts';
import { writeHtpasswd } from '../auth/issuer.ts';

const INTERVAL_MS = 250;
const THRESHOLD = 4;

/** Makes the storage root immutable (`chattr +i`: root cannot write into it either) until `thaw`. */
function freeze(dir: string): () => void {
  execFileSync('chattr', ['+i', dir]);
  let frozen = true;
  return () => {
    if (frozen) execFileSync('chattr', ['-i', dir]);
    frozen = false;
  };
}

async function ready(registry: TestRegistry): Promise<{ status: number; body: { status: string; storage: { state: string; error?: string } } }> {
  const res = await fetch(`${registry.url}/readyz`);
  return { status: res.status, body: (await res.json()) as { status: string; storage: { state: string; error?: string } } };
}

/** Polls /readyz until it answers `status`; returns the ms it took. */
async function untilReady(registry: TestRegistry, status: number, timeoutMs: number): Promise<number> {
  const started = Date.now();
  for (;;) {
    if ((await ready(registry)).status === status) return Date.now() - started;
    if (Date.now() - started > timeoutMs) assert.fail(`/readyz did not answer ${status} within ${timeoutMs} ms`);
    await sleep(20);
  }
}

describe('health: /healthz and /readyz', () => {
  let work: string;
  const started: TestRegistry[] = [];
  const thaws: (() => void)[] = [];

  before(async () => {
    work = await mkdtemp(path.join(tmpdir(), 'dockyard-health-'));
  });
  after(async () => {
    for (const thaw of thaws) thaw();
    for (const r of started) await r.stop();
    await rm(work, { recursive: true, force: true });
  });

  async function start(config: Record<string, unknown>): Promise<TestRegistry> {
    const registry = await startTestRegistry(config);
    started.push(registry);
    return registry;
  }

  it('answers outside /v2/ auth: /v2/ asks for credentials, /healthz and /readyz do not', async () => {
    const file = path.join(work, 'htpasswd');
    await writeHtpasswd(file, { alice: 'secret' });
    const registry = await start({ auth: { htpasswd: { realm: 'dockyard', path: file } } });
    assert.equal((await fetch(`${registry.url}/v2/`)).status, 401);
    assert.equal((await fetch(`${registry.url}/healthz`)).status, 200);
    const r = await ready(registry);
    assert.equal(r.status, 200);
    assert.equal(r.body.storage.state, 'reachable');
  });

  it(`with health.storagedriver (interval ${INTERVAL_MS}ms, threshold ${THRESHOLD}): 503 only after ${THRESHOLD} failed checks, 200 again after recovery; /healthz stays 200`, async (t) => {
    const registry = await start({ health: { storagedriver: { enabled: true, interval: `${INTERVAL_MS}ms`, threshold: THRESHOLD } } });
    await untilReady(registry, 200, 2_000);
    const thaw = freeze(registry.root);
    thaws.push(thaw);
    const frozenAt = Date.now();
    // Polled while failing: /readyz answers from the last background result, not a check of its own.
    const failedAfter = await untilReady(registry, 503, THRESHOLD * INTERVAL_MS + 3_000);
    const down = await ready(registry);
    assert.equal(down.body.status, 'unavailable');
    assert.equal(down.body.storage.state, 'error');
    assert.match(down.body.storage.error ?? '', new RegExp(`EPERM.*\(${THRESHOLD} failed checks in a row\)`));
    // Not before threshold - 1 whole intervals: one or two failures do not flip readiness.
    assert.ok(failedAfter >= (THRESHOLD - 1) * INTERVAL_MS, `503 after ${failedAfter} ms, before ${THRESHOLD - 1} intervals`);
    assert.equal((await fetch(`${registry.url}/healthz`)).status, 200, '/healthz: the process is alive');

    thaw();
    const recoveredAfter = await untilReady(registry, 200, INTERVAL_MS + 3_000);
    t.diagnostic(`503 ${failedAfter} ms after the root became immutable (threshold x interval = ${THRESHOLD * INTERVAL_MS} ms); 200 again ${recoveredAfter} ms after it became writable (frozen ${Date.now() - frozenAt} ms in all); error: ${down.body.storage.error}`);
    assert.equal((await ready(registry)).body.storage.state, 'reachable');
  });

  it('without health.storagedriver, /readyz checks the storage at each request: 503 at once on an unwritable root', async (t) => {
    const registry = await start({});
    assert.equal((await ready(registry)).status, 200);
    const thaw = freeze(registry.root);
    thaws.push(thaw);
    try {
      const r = await ready(registry);
      assert.equal(r.status, 503);
      assert.equal(r.body.storage.state, 'error');
      t.diagnostic(`error: ${r.body.storage.error}`);
      assert.equal((await fetch(`${registry.url}/healthz`)).status, 200);
    } finally {
      thaw();
    }
    assert.equal((await ready(registry)).status, 200);
  });

  it('with health.storagedriver.enabled: false, /readyz does not check the storage, as Distribution', async () => {
    const registry = await start({ health: { storagedriver: { enabled: false } } });
    const thaw = freeze(registry.root);
    thaws.push(thaw);
    try {
      assert.equal((await ready(registry)).status, 200);
    } finally {
      thaw();
    }
  });
});
