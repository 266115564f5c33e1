import { createHmac, timingSafeEqual } from 'node:crypto';

/**
 * Standard Webhooks signatures (https://www.standardwebhooks.com): the consumer recomputes an
 * HMAC-SHA256 over `id.timestamp.body` with the shared secret and compares.
 */
export const SECRET_PREFIX = 'whsec_';
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

function secretKey(secret: string): Buffer {
  return Buffer.from(secret.startsWith(SECRET_PREFIX) ? secret.slice(SECRET_PREFIX.length) : secret, 'base64');
}

/** `v1,<base64 HMAC-SHA256 of "id.timestamp.body">`. */
export function sign(secret: string, id: string, timestampSeconds: number, body: string): string {
  const mac = createHmac('sha256', secretKey(secret)).update(`${id}.${timestampSeconds}.${body}`).digest('base64');
  return `v1,${mac}`;
}

/** The three headers for one delivery attempt. */
export function signatureHeaders(secret: string, id: string, body: string, now = Date.now()): Record<string, string> {
  const timestamp = Math.floor(now / 1000);
  return {
    [WebhookHeader.Id]: id,
    [WebhookHeader.Timestamp]: String(timestamp),
    [WebhookHeader.Signature]: sign(secret, id, timestamp, body),
  };
}

/**
 * The consumer's side: checks the timestamp is recent and one of the space-separated
 * signatures matches. Throws WebhookVerificationError.
 */
export function verify(secret: string, headers: Record<string, string | undefined>, body: string, now = Date.now()): void {
  const id = headers[WebhookHeader.Id];
  const timestamp = headers[WebhookHeader.Timestamp];
  const signatures = headers[WebhookHeader.Signature];
  if (!id || !timestamp || !signatures) throw new WebhookVerificationError('missing webhook headers');
  const ts = Number(timestamp);
  if (!Number.isInteger(ts) || Math.abs(now / 1000 - ts) > WEBHOOK_TOLERANCE_IN_SECONDS) {
    throw new WebhookVerificationError('timestamp outside the tolerance');
  }
  const expected = Buffer.from(sign(secret, id, ts, body).slice(3), 'base64');
  for (const candidate of signatures.split(' ')) {
    const [version, mac] = candidate.split(',', 2);
    if (version !== 'v1' || !mac) continue;
    const given = Buffer.from(mac, 'base64');
    if (given.length === expected.length && timingSafeEqual(given, expected)) return;
  }
  throw new WebhookVerificationError('no matching signature');
}
