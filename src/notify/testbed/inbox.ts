import { verify, WebhookVerificationError } from '../delivery/signing.ts';

/** One request an inbox endpoint received, exactly as a consumer would have it. */
export interface InboxRequest {
  /** Increasing per inbox: the page asks for what came after the last one it has. */
  seq: number;
  at: string;
  method: string;
  /** Header names lower-cased, as Node gives them; repeated headers joined with ", ". */
  headers: Record<string, string>;
  /** The body's bytes as UTF-8 text (what was signed), cut at `maxBodyBytes`. */
  body: string;
  bytes: number;
  truncated: boolean;
  /** The Standard Webhooks check a consumer would run, with the inbox's own secret. */
  signature: { valid: boolean; detail: string };
}

export interface InboxLimits {
  /** Requests kept per inbox; the oldest go first. */
  maxRequests: number;
  maxBodyBytes: number;
}

const DEFAULT_LIMITS: InboxLimits = { maxRequests: 100, maxBodyBytes: 1024 * 1024 };

/**
 * The built-in inboxes of the test bed: what was delivered to `/ui/inbox/<name>`, kept in memory
 * (a test bed's view, bounded, gone at restart; the delivery log in the outbox is the record).
 * Each request is checked the way a consumer would check it, against the endpoint's secrets.
 */
export class Inboxes {
  private readonly boxes = new Map<string, { next: number; requests: InboxRequest[] }>();
  private readonly limits: InboxLimits;

  constructor(limits: Partial<InboxLimits> = {}) {
    this.limits = { ...DEFAULT_LIMITS, ...limits };
  }

  receive(name: string, secrets: string[], req: { method: string; headers: Record<string, string | string[] | undefined>; body: Buffer }, now = Date.now()): InboxRequest {
    let box = this.boxes.get(name);
    if (!box) this.boxes.set(name, (box = { next: 1, requests: [] }));
    const headers: Record<string, string> = {};
    for (const [k, v] of Object.entries(req.headers)) if (v !== undefined) headers[k.toLowerCase()] = Array.isArray(v) ? v.join(', ') : v;
    const text = req.body.toString('utf8');
    const truncated = req.body.length > this.limits.maxBodyBytes;
    const entry: InboxRequest = {
      seq: box.next++,
      at: new Date(now).toISOString(),
      method: req.method,
      headers,
      body: truncated ? req.body.subarray(0, this.limits.maxBodyBytes).toString('utf8') : text,
      bytes: req.body.length,
      truncated,
      signature: check(secrets, headers, text, now),
    };
    box.requests.push(entry);
    if (box.requests.length > this.limits.maxRequests) box.requests.splice(0, box.requests.length - this.limits.maxRequests);
    return entry;
  }

  /** What the inbox holds after `afterSeq`, oldest first. */
  list(name: string, afterSeq = 0): InboxRequest[] {
    return (this.boxes.get(name)?.requests ?? []).filter((r) => r.seq > afterSeq);
  }

  forget(name: string): void {
    this.boxes.delete(name);
  }
}

function check(secrets: string[], headers: Record<string, string>, body: string, now: number): InboxRequest['signature'] {
  if (secrets.length === 0) return { valid: false, detail: 'the endpoint has no secret: nothing to check' };
  let last = 'no secret';
  for (const secret of secrets) {
    try {
      verify(secret, headers, body, now);
      return { valid: true, detail: `v1 signature verified with the endpoint's secret ${secret.slice(0, 10)}…` };
    } catch (err) {
      if (!(err instanceof WebhookVerificationError)) throw err;
      last = err.message;
    }
  }
  return { valid: false, detail: last };
}
