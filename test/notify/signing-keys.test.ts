import assert from 'node:assert/strict';
import { createHmac, createPublicKey, generateKeyPairSync, timingSafeEqual, verify as edVerify } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import { parseConfig } from '../../src/config/load.ts';
import { publicKeyOf, verify } from '../../src/notify/delivery/signing.ts';
import { configError } from '../helpers/config-error.ts';
import { randomBlob } from '../helpers/oci.ts';
import { eventsOf, ok, WebhookReceiver, type ReceivedRequest } from '../helpers/receiver.ts';
import { startTestRegistry } from '../helpers/registry.ts';
import { drained, endpoint, endpointState, NotifyClient, resetBeforeEach, useWithReceiver } from './support.ts';

const OLD_SECRET = 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw';
const NEW_SECRET = 'whsec_' + Buffer.from('the secret we rotate to, 32 bytes').toString('base64');
const WHPK = /^whpk_[A-Za-z0-9+/]{43}=$/;

/** The signatures of one version in webhook-signature (`v1`, `v1a`). */
function signatures(r: ReceivedRequest, version: string): string[] {
  return String(r.headers['webhook-signature'] ?? '')
    .split(' ')
    .filter((s) => s.startsWith(`${version},`));
}

/** A consumer holding one secret, written from the spec (independent of src/notify/delivery/signing.ts). */
function hmacVerifies(secret: string, r: ReceivedRequest): boolean {
  const signed = `${String(r.headers['webhook-id'])}.${String(r.headers['webhook-timestamp'])}.${r.raw}`;
  const expected = createHmac('sha256', Buffer.from(secret.slice('whsec_'.length), 'base64')).update(signed).digest();
  return signatures(r, 'v1').some((s) => {
    const given = Buffer.from(s.slice(3), 'base64');
    return given.length === expected.length && timingSafeEqual(given, expected);
  });
}

/** A consumer holding only the published public key, with node:crypto's own JWK import. */
function ed25519Verifies(whpk: string, r: ReceivedRequest): boolean {
  const x = Buffer.from(whpk.slice('whpk_'.length), 'base64').toString('base64url');
  const key = createPublicKey({ key: { kty: 'OKP', crv: 'Ed25519', x }, format: 'jwk' });
  const signed = Buffer.from(`${String(r.headers['webhook-id'])}.${String(r.headers['webhook-timestamp'])}.${r.raw}`);
  return signatures(r, 'v1a').some((s) => edVerify(null, signed, key, Buffer.from(s.slice(4), 'base64')));
}

async function pushOne(client: NotifyClient, name: string, size = 32): Promise<void> {
  const blob = randomBlob(size);
  assert.equal((await client.pushBlob(name, blob.data, blob.digest)).status, 201);
}

describe('rotating secrets', { timeout: 30_000 }, () => {
  const h = useWithReceiver({ endpoint: { secret: [OLD_SECRET, NEW_SECRET] } });
  resetBeforeEach(h, ok);

  it('signs every attempt once per secret, so consumers holding either secret verify', async () => {
    await pushOne(h.client, 'rotate/app');
    await drained(h.registry);
    const [r] = h.receiver.accepted();
    assert.ok(r);
    assert.equal(signatures(r, 'v1').length, 2, `two v1 signatures: ${String(r.headers['webhook-signature'])}`);
    assert.equal(signatures(r, 'v1a').length, 0, 'no v1a without signing.ed25519');
    assert.ok(hmacVerifies(OLD_SECRET, r), 'a consumer still holding only the old secret verifies');
    assert.ok(hmacVerifies(NEW_SECRET, r), 'a consumer already on the new secret verifies');
    assert.doesNotThrow(() => verify(OLD_SECRET, r.headers, r.raw));
    assert.doesNotThrow(() => verify(NEW_SECRET, r.headers, r.raw));
    const stranger = 'whsec_' + Buffer.from('nobody was given this one').toString('base64');
    assert.equal(hmacVerifies(stranger, r), false);
    assert.throws(() => verify(stranger, r.headers, r.raw), /no matching signature/);
  });

  it('publishes no public key for an endpoint signing with secrets only', async () => {
    assert.equal((await endpointState(h.registry)).publickey, undefined);
  });
});

describe('Ed25519 signatures (v1a)', { timeout: 30_000 }, () => {
  const h = useWithReceiver({ endpoint: { signing: { ed25519: true } } });
  resetBeforeEach(h, ok);

  it('verify with the published public key alone, and a changed body does not', async () => {
    const { publickey } = await endpointState(h.registry);
    assert.match(String(publickey), WHPK);
    await pushOne(h.client, 'asym/app');
    await drained(h.registry);
    const [r] = h.receiver.accepted();
    assert.ok(r);
    assert.equal(r.headers['webhook-id'], eventsOf(r)[0]!.id);
    assert.deepEqual(
      String(r.headers['webhook-signature']).split(' ').map((s) => s.split(',')[0]),
      ['v1a'],
      'a v1a signature only: no secret is configured',
    );
    assert.ok(ed25519Verifies(publickey!, r), 'an independent consumer verifies with the public key');
    assert.doesNotThrow(() => verify(publickey!, r.headers, r.raw), 'so does the helper');
    assert.equal(ed25519Verifies(publickey!, { ...r, raw: r.raw.replace('asym/app', 'asym/evil') }), false);
    assert.throws(() => verify(publickey!, r.headers, r.raw.replace('asym/app', 'asym/evil')), /no matching signature/);
    const other = generateKeyPairSync('ed25519').publicKey.export({ format: 'jwk' }).x!;
    const otherWhpk = 'whpk_' + Buffer.from(other, 'base64url').toString('base64');
    assert.equal(ed25519Verifies(otherWhpk, r), false, 'another key does not verify');
  });
});

describe('the generated key pair', { timeout: 60_000 }, () => {
  it('is kept with the outbox: the same public key after a restart, one key per endpoint, v1 and v1a side by side', async () => {
    const receiver = await WebhookReceiver.start(ok);
    const root = await mkdtemp(path.join(tmpdir(), 'dockyard-keys-'));
    try {
      const config = {
        storage: { filesystem: { rootdirectory: root } },
        notifications: {
          endpoints: [
            endpoint(receiver, { signing: { ed25519: true }, secret: OLD_SECRET }),
            endpoint(receiver, { name: 'other', url: receiver.url('/other'), signing: { ed25519: true } }),
          ],
        },
      };
      const first = await startTestRegistry(config);
      const before = await endpointState(first, 'hook');
      const otherKey = (await endpointState(first, 'other')).publickey;
      await first.stop();

      const second = await startTestRegistry(config);
      try {
        const after = await endpointState(second, 'hook');
        assert.match(String(after.publickey), WHPK);
        assert.equal(after.publickey, before.publickey, 'the restarted registry signs with the key it generated before');
        assert.equal((await endpointState(second, 'other')).publickey, otherKey);
        assert.notEqual(otherKey, after.publickey, 'each endpoint has a key of its own');

        await pushOne(new NotifyClient(second.url), 'kept/app');
        await drained(second, 'hook');
        const r = receiver.accepted().find((q) => q.url === '/hook');
        assert.ok(r);
        assert.equal(signatures(r, 'v1').length, 1);
        assert.ok(ed25519Verifies(before.publickey!, r), 'signed after the restart, verified with the key published before it');
        assert.ok(hmacVerifies(OLD_SECRET, r));
      } finally {
        await second.stop();
      }
    } finally {
      await receiver.close();
      await rm(root, { recursive: true, force: true });
    }
  });
});

describe('a supplied whsk_ key', { timeout: 30_000 }, () => {
  const pair = generateKeyPairSync('ed25519');
  const jwk = pair.privateKey.export({ format: 'jwk' });
  const whsk = 'whsk_' + Buffer.from(jwk.d!, 'base64url').toString('base64');
  const whpk = 'whpk_' + Buffer.from(jwk.x!, 'base64url').toString('base64');
  const h = useWithReceiver({ endpoint: { signing: { ed25519: whsk } } });
  resetBeforeEach(h, ok);

  it('is published as its matching whpk_ key and signs with it', async () => {
    assert.equal((await endpointState(h.registry)).publickey, whpk);
    await pushOne(h.client, 'supplied/app');
    await drained(h.registry);
    const [r] = h.receiver.accepted();
    assert.ok(r && ed25519Verifies(whpk, r));
  });

  it('is taken in libsodium form too (seed then public key), and refused when it is neither 32 nor 64 bytes', () => {
    const seed = Buffer.from(jwk.d!, 'base64url');
    const sodium = 'whsk_' + Buffer.concat([seed, Buffer.from(jwk.x!, 'base64url')]).toString('base64');
    const raw = (ed25519: unknown) => ({ notifications: { endpoints: [{ name: 'x', url: 'http://127.0.0.1:9/hook', signing: { ed25519 } }] } });
    assert.deepEqual(parseConfig(raw(sodium)).config.notifications.endpoints[0]!.signing, { ed25519: sodium });
    assert.equal(publicKeyOf(sodium), whpk);
    const mismatched = 'whsk_' + Buffer.concat([seed, Buffer.alloc(32, 7)]).toString('base64');
    assert.throws(() => publicKeyOf(mismatched), /does not end with its own public key/);
    assert.match(configError(() => parseConfig(raw('whsk_' + seed.subarray(0, 16).toString('base64')))), /32-byte Ed25519 seed/);
    assert.match(configError(() => parseConfig(raw('hunter2'))), /signing\.ed25519/);
  });
});
