import assert from 'node:assert/strict';
import { createHmac, timingSafeEqual } from 'node:crypto';
import { describe, it } from 'node:test';
import { sign, verify } from '../../src/notify/delivery/signing.ts';
import { randomBlob } from '../helpers/oci.ts';
import { eventsOf, failFirst, ok, type ReceivedRequest } from '../helpers/receiver.ts';
import { startTestRegistry } from '../helpers/registry.ts';
import { assertEnvelopes, drained, resetBeforeEach, useWithReceiver } from './support.ts';

const SECRET = 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw';

/**
 * A consumer's verifier, written from the Standard Webhooks spec and independent of
 * src/notify/signing.ts: HMAC-SHA256 over `${id}.${timestamp}.${body}` keyed with the
 * base64-decoded secret after `whsec_`, compared with each `v1,<base64>` in the header.
 */
function consumerVerifies(secret: string, request: ReceivedRequest, nowSeconds = Date.now() / 1000): boolean {
  const id = request.headers['webhook-id'];
  const timestamp = request.headers['webhook-timestamp'];
  const signatures = request.headers['webhook-signature'];
  if (typeof id !== 'string' || typeof timestamp !== 'string' || typeof signatures !== 'string') return false;
  if (!/^\d+$/.test(timestamp) || Math.abs(nowSeconds - Number(timestamp)) > 300) return false;
  const key = Buffer.from(secret.slice('whsec_'.length), 'base64');
  const expected = createHmac('sha256', key).update(`${id}.${timestamp}.${request.raw}`).digest();
  return signatures.split(' ').some((s) => {
    const [version, mac] = s.split(',');
    if (version !== 'v1' || !mac) return false;
    const given = Buffer.from(mac, 'base64');
    return given.length === expected.length && timingSafeEqual(given, expected);
  });
}

describe('Standard Webhooks signing', () => {
  it('computes the known answer for the spec example', () => {
    assert.equal(
      sign(SECRET, 'msg_p5jXN8AQM9LWM0D4loKWxJek', 1614265330, '{"test": 2432232314}'),
      'v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=',
    );
  });

  it('verifies its own signature and rejects a tampered body or a stale timestamp', () => {
    const headers = { 'webhook-id': 'msg_1', 'webhook-timestamp': '1614265330', 'webhook-signature': sign(SECRET, 'msg_1', 1614265330, '{"a":1}') };
    const at = 1614265330 * 1000;
    assert.doesNotThrow(() => verify(SECRET, headers, '{"a":1}', at));
    assert.throws(() => verify(SECRET, headers, '{"a":2}', at), /no matching signature/);
    assert.throws(() => verify(SECRET, headers, '{"a":1}', at + 600_000), /timestamp/);
  });

  it('refuses to start with a secret that is not whsec_ followed by base64', async () => {
    await assert.rejects(
      startTestRegistry({ notifications: { endpoints: [{ name: 'x', url: 'http://127.0.0.1:9/hook', secret: 'hunter2!' }] } }),
      /secret/,
    );
  });
});

describe('signed deliveries', { timeout: 30_000 }, () => {
  const h = useWithReceiver({ endpoint: { secret: SECRET, headers: { Authorization: ['Bearer token-1'], 'X-Team': 'infra' } } });
  resetBeforeEach(h, ok);

  it('signs every delivery so that an independent consumer verifies it, with webhook-id equal to the event id', async () => {
    for (let i = 0; i < 3; i++) {
      const blob = randomBlob(100 + i);
      assert.equal((await h.client.pushBlob('signed/app', blob.data, blob.digest)).status, 201);
    }
    await h.receiver.waitFor(3);
    await drained(h.registry);
    assertEnvelopes(h.receiver);
    for (const r of h.receiver.requests) {
      assert.ok(consumerVerifies(SECRET, r), `delivery #${r.index} verifies: ${JSON.stringify(r.headers)}`);
      assert.equal(r.headers['webhook-id'], eventsOf(r)[0]!.id, 'webhook-id is the event id');
      assert.match(String(r.headers['webhook-signature']), /^v1,[A-Za-z0-9+/]{43}=$/);
      assert.equal(consumerVerifies('whsec_' + Buffer.from('another secret').toString('base64'), r), false, 'another secret does not verify');
    }
  });

  it('keeps webhook-id and the body unchanged across retries, each attempt freshly signed', async () => {
    h.receiver.behaviour = failFirst(2, { status: 500 });
    const blob = randomBlob(50);
    assert.equal((await h.client.pushBlob('signed/app', blob.data, blob.digest)).status, 201);
    const [event] = await h.receiver.waitFor(1);
    assert.equal(h.receiver.requests.length, 3);
    for (const r of h.receiver.requests) {
      assert.equal(r.headers['webhook-id'], event!.id, `attempt #${r.index} carries the event id`);
      assert.equal(r.raw, h.receiver.requests[0]!.raw, 'the same body on every attempt');
      assert.ok(consumerVerifies(SECRET, r), `attempt #${r.index} verifies`);
    }
  });

  it('sends the configured headers with every delivery', async () => {
    const blob = randomBlob(20);
    assert.equal((await h.client.pushBlob('signed/app', blob.data, blob.digest)).status, 201);
    await h.receiver.waitFor(1);
    const [r] = h.receiver.requests;
    assert.equal(r!.headers.authorization, 'Bearer token-1');
    assert.equal(r!.headers['x-team'], 'infra');
  });
});

describe('signed batched deliveries', { timeout: 30_000 }, () => {
  const h = useWithReceiver({
    endpoint: { secret: SECRET, batch: { maxevents: 3, maxwait: '300ms' } },
    behaviour: failFirst(1, { status: 503 }),
  });

  it('keeps one webhook-id for a batch across its retries, and the batch verifies', async () => {
    await Promise.all(
      [0, 1, 2].map(async (i) => {
        const blob = randomBlob(30 + i);
        assert.equal((await h.client.pushBlob('batched/app', blob.data, blob.digest)).status, 201);
      }),
    );
    await h.receiver.waitFor(3);
    const [failed, delivered] = h.receiver.requests;
    assert.equal(eventsOf(delivered!).length, 3, 'the three events went as one batch');
    assert.equal(failed!.headers['webhook-id'], delivered!.headers['webhook-id']);
    assert.equal(failed!.raw, delivered!.raw);
    assert.ok(consumerVerifies(SECRET, failed!) && consumerVerifies(SECRET, delivered!));
  });
});
