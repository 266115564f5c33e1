import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { ociImage } from '../helpers/oci.ts';
import { WebhookReceiver, eventsOf, ok } from '../helpers/receiver.ts';
import { startTestRegistry, type TestRegistry } from '../helpers/registry.ts';
import { assertEnvelopes, endpoint, NotifyClient } from './support.ts';

const HUNG_TIMEOUT_MS = 3_000;
/**
 * The hung endpoint's timeout beside a healthy one: long, so that "before the hung attempt even
 * times out" tells isolation apart from a slow machine (the pushes may take seconds under load).
 */
const BESIDE_TIMEOUT_MS = 10_000;

/** Records how long each request took. */
class TimingClient extends NotifyClient {
  readonly durations: number[] = [];
  override async fetch(p: string, init: RequestInit = {}): Promise<Response> {
    const started = performance.now();
    const res = await super.fetch(p, init);
    this.durations.push(performance.now() - started);
    return res;
  }
}

/** Pushes `n` small images (3 blobs and a manifest each); returns the elapsed ms. */
async function pushImages(client: TimingClient, repo: string, n: number): Promise<number> {
  const started = performance.now();
  for (let i = 0; i < n; i++) await client.pushImage(repo, `t${i}`, ociImage({ layers: 2 }));
  return performance.now() - started;
}

/** A receiver that never answers holds up neither the registry's clients nor other endpoints. */
describe('a receiver that never answers', { timeout: 60_000 }, () => {
  let hung: WebhookReceiver;
  let healthy: WebhookReceiver;
  let withHung: TestRegistry;
  let without: TestRegistry;
  let both: TestRegistry;

  before(async () => {
    hung = await WebhookReceiver.start(() => 'hang');
    healthy = await WebhookReceiver.start(ok);
    withHung = await startTestRegistry({ notifications: { endpoints: [endpoint(hung, { timeout: `${HUNG_TIMEOUT_MS}ms` })] } });
    without = await startTestRegistry();
    both = await startTestRegistry({
      notifications: {
        endpoints: [endpoint(hung, { name: 'hung', timeout: `${BESIDE_TIMEOUT_MS}ms` }), endpoint(healthy, { name: 'healthy' })],
      },
    });
  });
  after(async () => {
    await hung?.close();
    await healthy?.close();
    await Promise.all([withHung?.stop(), without?.stop(), both?.stop()]);
  });

  it('does not slow pushes down, and every push answers well within the endpoint timeout', async (t) => {
    const slow = new TimingClient(withHung.url);
    const fast = new TimingClient(without.url);
    // Warm both up, then alternate so that neither gets the machine to itself.
    await pushImages(slow, 'warm/app', 1);
    await pushImages(fast, 'warm/app', 1);
    let hungMs = 0;
    let noneMs = 0;
    for (let round = 0; round < 3; round++) {
      hungMs += await pushImages(slow, `perf/app${round}`, 4);
      noneMs += await pushImages(fast, `perf/app${round}`, 4);
    }
    t.diagnostic(`48 requests: ${hungMs.toFixed(0)} ms with a hung endpoint, ${noneMs.toFixed(0)} ms with none`);
    assert.ok(hung.requests.length >= 1, 'the hung receiver was being tried all along');
    assert.ok(hungMs < noneMs * 3 + 500, `48 requests took ${hungMs.toFixed(0)} ms with a hung endpoint vs ${noneMs.toFixed(0)} ms without one`);
    const worst = Math.max(...slow.durations);
    assert.ok(worst < HUNG_TIMEOUT_MS / 2, `the slowest request took ${worst.toFixed(0)} ms (endpoint timeout ${HUNG_TIMEOUT_MS} ms)`);
  });

  it('does not delay a healthy second endpoint: it gets every event before the hung one even times out', async () => {
    const client = new TimingClient(both.url);
    const started = Date.now();
    await pushImages(client, 'two/app', 3);
    const events = await healthy.waitFor(12, BESIDE_TIMEOUT_MS - 1_000);
    const elapsed = Date.now() - started;
    assert.ok(elapsed < BESIDE_TIMEOUT_MS - 1_000, `the healthy endpoint had all 12 events after ${elapsed} ms`);
    assert.equal(events.length, 12);
    assertEnvelopes(healthy);
    assert.deepEqual(
      events.filter((e) => e.target.tag !== undefined).map((e) => e.target.tag),
      ['t0', 't1', 't2'],
      'manifest pushes in order',
    );
    const toHung = hung.requests.filter((r) => eventsOf(r).some((e) => e.target.repository === 'two/app'));
    assert.ok(toHung.length <= 1, `the hung endpoint got ${toHung.length} requests: one at a time, in order`);
  });

  it('does not hold up a shutdown: closing the registry does not wait for the hung attempt to time out', async () => {
    const registry = await startTestRegistry({ notifications: { endpoints: [endpoint(hung, { name: 'slow', timeout: '5s' })] } });
    try {
      await pushImages(new TimingClient(registry.url), 'shutdown/app', 1);
      await hung.until(() => hung.requests.some((r) => eventsOf(r).some((e) => e.target.repository === 'shutdown/app')), 5_000, () => 'no attempt reached the hung receiver');
    } finally {
      const started = Date.now();
      await registry.stop();
      const took = Date.now() - started;
      assert.ok(took < 2_000, `close() took ${took} ms with a delivery in flight (endpoint timeout 5 s); the events are durable, the attempt can be abandoned`);
    }
  });
});

