import { createHmac, createPrivateKey, createPublicKey, randomBytes, sign as edSign, timingSafeEqual, verify as edVerify, type KeyObject } from 'node:crypto';
import type { EndpointOptions } from '../options.ts';

/**
 * Standard Webhooks signatures (https://www.standardwebhooks.com), over `id.timestamp.body`:
 * `v1` is an HMAC-SHA256 with a shared secret (`whsec_`), `v1a` an Ed25519 signature with a
 * private key (`whsk_`) that the consumer checks with the public key (`whpk_`) alone.
 */
export const SECRET_PREFIX = 'whsec_';
export const PRIVATE_KEY_PREFIX = 'whsk_';
export const PUBLIC_KEY_PREFIX = 'whpk_';
export const WEBHOOK_TOLERANCE_IN_SECONDS = 5 * 60;

export const WebhookHeader = {
  Id: 'webhook-id',
  Timestamp: 'webhook-timestamp',
  Signature: 'webhook-signature',
} as const;

export class WebhookVerificationError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'WebhookVerificationError';
  }
}

/** What signs an endpoint's requests: every secret, and the Ed25519 key once start-up resolved it. */
export type SigningKeys = Pick<EndpointOptions, 'secrets' | 'ed25519'>;

// DER framing of a raw Ed25519 key (RFC 8410), so node:crypto takes the raw 32 bytes.
const PKCS8_ED25519 = Buffer.from('302e020100300506032b657004220420', 'hex');
const SPKI_ED25519 = Buffer.from('302a300506032b6570032100', 'hex');
const ED25519_KEY_BYTES = 32;

function secretKey(secret: string): Buffer {
  return Buffer.from(secret.startsWith(SECRET_PREFIX) ? secret.slice(SECRET_PREFIX.length) : secret, 'base64');
}

/** `v1,<base64 HMAC-SHA256 of "id.timestamp.body">`. */
export function sign(secret: string, id: string, timestampSeconds: number, body: string): string {
  const mac = createHmac('sha256', secretKey(secret)).update(`${id}.${timestampSeconds}.${body}`).digest('base64');
  return `v1,${mac}`;
}

/** A fresh Ed25519 private key, `whsk_` + base64 of its raw 32-byte seed. */
export function generateSigningKey(): string {
  return PRIVATE_KEY_PREFIX + randomBytes(ED25519_KEY_BYTES).toString('base64');
}

const privateKeys = new Map<string, KeyObject>();

/**
 * A `whsk_` key: base64 of the raw 32-byte seed (RFC 8032), or of libsodium's 64 bytes (seed, then
 * public key). Throws on anything else.
 */
export function privateKeyOf(whsk: string): KeyObject {
  const known = privateKeys.get(whsk);
  if (known) return known;
  if (!whsk.startsWith(PRIVATE_KEY_PREFIX)) throw new Error(`an Ed25519 private key starts with ${PRIVATE_KEY_PREFIX}`);
  const raw = Buffer.from(whsk.slice(PRIVATE_KEY_PREFIX.length), 'base64');
  if (raw.length !== ED25519_KEY_BYTES && raw.length !== 2 * ED25519_KEY_BYTES) {
    throw new Error(`an Ed25519 private key is 32 bytes (or 64, libsodium's), not ${raw.length}`);
  }
  const key = createPrivateKey({ key: Buffer.concat([PKCS8_ED25519, raw.subarray(0, ED25519_KEY_BYTES)]), format: 'der', type: 'pkcs8' });
  if (raw.length === 2 * ED25519_KEY_BYTES && !rawPublicKey(key).equals(raw.subarray(ED25519_KEY_BYTES))) {
    throw new Error('the 64-byte Ed25519 key does not end with its own public key');
  }
  privateKeys.set(whsk, key);
  return key;
}

function rawPublicKey(key: KeyObject): Buffer {
  return createPublicKey(key).export({ format: 'der', type: 'spki' }).subarray(SPKI_ED25519.length);
}

/** The public key of a `whsk_` key, as consumers are given it: `whpk_` + base64 of the raw 32 bytes. */
export function publicKeyOf(whsk: string): string {
  return PUBLIC_KEY_PREFIX + rawPublicKey(privateKeyOf(whsk)).toString('base64');
}

/** `v1a,<base64 Ed25519 signature of "id.timestamp.body">`. */
export function signEd25519(whsk: string, id: string, timestampSeconds: number, body: string): string {
  return `v1a,${edSign(null, Buffer.from(`${id}.${timestampSeconds}.${body}`), privateKeyOf(whsk)).toString('base64')}`;
}

/**
 * The three headers for one delivery attempt: one `v1` per secret (so a consumer rotating its
 * secret verifies with either) and a `v1a` with the Ed25519 key, space-separated. None when the
 * endpoint signs nothing.
 */
export function signatureHeaders(keys: SigningKeys, id: string, body: string, now = Date.now()): Record<string, string> {
  if (keys.ed25519 === 'generate') throw new Error('the Ed25519 key must be resolved at start, before delivery');
  const privateKey = keys.ed25519?.privateKey ?? null;
  if (keys.secrets.length === 0 && privateKey === null) return {};
  const timestamp = Math.floor(now / 1000);
  const signatures = keys.secrets.map((s) => sign(s, id, timestamp, body));
  if (privateKey !== null) signatures.push(signEd25519(privateKey, id, timestamp, body));
  return {
    [WebhookHeader.Id]: id,
    [WebhookHeader.Timestamp]: String(timestamp),
    [WebhookHeader.Signature]: signatures.join(' '),
  };
}

/**
 * The consumer's side: checks the timestamp is recent and that one of the space-separated
 * signatures matches `key`: a `whsec_` secret checks the `v1` ones, a `whpk_` public key the `v1a`
 * ones. Throws WebhookVerificationError.
 */
export function verify(key: string, headers: Record<string, string | string[] | undefined>, body: string, now = Date.now()): void {
  const id = headers[WebhookHeader.Id];
  const timestamp = headers[WebhookHeader.Timestamp];
  const signatures = headers[WebhookHeader.Signature];
  if (typeof id !== 'string' || typeof timestamp !== 'string' || typeof signatures !== 'string') {
    throw new WebhookVerificationError('missing webhook headers');
  }
  const ts = Number(timestamp);
  if (!/^\d+$/.test(timestamp) || Math.abs(now / 1000 - ts) > WEBHOOK_TOLERANCE_IN_SECONDS) {
    throw new WebhookVerificationError('timestamp outside the tolerance');
  }
  const signed = Buffer.from(`${id}.${ts}.${body}`);
  const matches = key.startsWith(PUBLIC_KEY_PREFIX) ? ed25519Matcher(key, signed) : hmacMatcher(key, id, ts, body);
  for (const candidate of signatures.split(' ')) {
    const [version, value] = candidate.split(',', 2);
    if (value && matches(version ?? '', Buffer.from(value, 'base64'))) return;
  }
  throw new WebhookVerificationError('no matching signature');
}

function hmacMatcher(secret: string, id: string, ts: number, body: string): (version: string, given: Buffer) => boolean {
  const expected = Buffer.from(sign(secret, id, ts, body).slice('v1,'.length), 'base64');
  return (version, given) => version === 'v1' && given.length === expected.length && timingSafeEqual(given, expected);
}

function ed25519Matcher(whpk: string, signed: Buffer): (version: string, given: Buffer) => boolean {
  const raw = Buffer.from(whpk.slice(PUBLIC_KEY_PREFIX.length), 'base64');
  if (raw.length !== ED25519_KEY_BYTES) throw new WebhookVerificationError('an Ed25519 public key is 32 bytes');
  const publicKey = createPublicKey({ key: Buffer.concat([SPKI_ED25519, raw]), format: 'der', type: 'spki' });
  return (version, given) => version === 'v1a' && edVerify(null, signed, publicKey, given);
}
