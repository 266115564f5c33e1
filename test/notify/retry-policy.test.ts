import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, it, type TestContext } from 'node:test';
import { randomBlob } from '../helpers/oci.ts';
import type { Behaviour } from '../helpers/receiver.ts';
import { startWithReceiver, type Harness, type StartedHarness } from './support.ts';

/**
 * Edges of the retry policy: settings Distribution treats as "use the default", receivers that ask
 * for an immediate retry, and a receiver that answers 2xx but never finishes its body. A failing
 * receiver must never be hammered in a tight loop, and a delivered event must not be sent again.
 */

/** A harness, or null when the registry refuses the config (also acceptable for zero settings). */
async function tryStart(t: TestContext, endpoint: Record<string, unknown>, behaviour: Behaviour): Promise<Harness | null> {
  let h: StartedHarness;
  try {
    h = await startWithReceiver({ endpoint, behaviour });
  } catch (err) {
    t.diagnostic(`config refused: ${String(err)}`);
    return null;
  }
  t.after(() => h.stop());
  return h;
}

async function pushOne(h: Harness): Promise<void> {
  const blob = randomBlob(32);
  assert.equal((await h.client.pushBlob('policy/app', blob.data, blob.digest)).status, 201);
}

/** No more than this many attempts per second at a failing receiver (fast test settings give ~15). */
const MAX_ATTEMPTS_PER_SECOND = 50;

// One at a time: a tight retry loop is measured by how many attempts it makes, so nothing else may share the CPU.
describe('retry policy edges', { timeout: 90_000 }, () => {
  it('delivers each event once with timeout: 0 (Distribution’s "use the default"), or refuses that config', async (t) => {
    const h = await tryStart(t, { timeout: 0 }, () => ({ status: 200 }));
    if (!h) return;
    await pushOne(h);
    await sleep(1_000);
    assert.equal(h.receiver.requests.length, 1, `a receiver answering 200 got the one event ${h.receiver.requests.length} times`);
  });

  it('still backs off with backoff: 0 (Distribution’s "use the default"), or refuses that config', async (t) => {
    const h = await tryStart(t, { backoff: 0 }, () => ({ status: 500 }));
    if (!h) return;
    await pushOne(h);
    await sleep(1_000);
    const n = h.receiver.requests.length;
    assert.ok(n <= MAX_ATTEMPTS_PER_SECOND, `a failing receiver got ${n} attempts in one second`);
  });

  it('does not hammer a receiver that answers 429 with Retry-After: 0', async (t) => {
    const h = (await tryStart(t, {}, () => ({ status: 429, headers: { 'retry-after': '0' } })))!;
    await pushOne(h);
    await sleep(1_000);
    const n = h.receiver.requests.length;
    assert.ok(n <= MAX_ATTEMPTS_PER_SECOND, `a rate-limiting receiver got ${n} attempts in one second`);
  });

  it('does not hammer a receiver that answers 503 with a Retry-After date in the past', async (t) => {
    const h = (await tryStart(t, {}, () => ({ status: 503, headers: { 'retry-after': new Date(Date.now() - 60_000).toUTCString() } })))!;
    await pushOne(h);
    await sleep(1_000);
    const n = h.receiver.requests.length;
    assert.ok(n <= MAX_ATTEMPTS_PER_SECOND, `an unavailable receiver got ${n} attempts in one second`);
  });

  it('counts a 2xx as delivered even when the receiver never finishes the response body', async (t) => {
    // The status line and a little body, then nothing: the receiver has accepted the event.
    const h = (await tryStart(t, { timeout: '300ms' }, () => ({ status: 200, body: 'accepted', stall: true })))!;
    await pushOne(h);
    await sleep(1_500);
    assert.equal(h.receiver.requests.length, 1, `the receiver answered 200 and still got the event ${h.receiver.requests.length} times`);
  });
});
