import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { z } from 'zod';
import type { EndpointOptions, NotifyOptions, PostgresOutboxOptions } from '../notify/options.ts';
import type { EndpointParse } from '../notify/runtime/endpoint-parse.ts';
import { bool, duration, int } from './types.ts';

const HOUR = 3_600_000;

function atLeastASecondIfZero(ms: number): number {
  return ms > 0 ? ms : 1_000;
}

const webhookSecret = z
  .string()
  .regex(/^whsec_[A-Za-z0-9+/]+={0,2}$/, 'secret must be "whsec_" followed by base64 (Standard Webhooks)');

/** Standard Webhooks' asymmetric secret key: base64 of the raw 32-byte Ed25519 seed (or libsodium's 64 bytes). */
const ed25519PrivateKey = z
  .string()
  .regex(/^whsk_[A-Za-z0-9+/]+={0,2}$/, 'signing.ed25519 must be true or "whsk_" followed by base64')
  .refine((k) => [32, 64].includes(Buffer.from(k.slice('whsk_'.length), 'base64').length), {
    message: 'signing.ed25519: a whsk_ key is the base64 of a 32-byte Ed25519 seed (or 64 bytes: seed and public key)',
  });

/** Options that only mean something together: refused at load rather than half-honoured. */
function cloudEventsFit(e: { envelope: string; cloudevents?: { mode: string } | undefined; batch?: { maxevents: number } | undefined }, ctx: z.RefinementCtx): void {
  if (e.cloudevents && e.envelope !== 'cloudevents') {
    ctx.addIssue({ code: 'custom', path: ['cloudevents'], message: 'cloudevents options need envelope: cloudevents' });
  }
  if (e.envelope === 'cloudevents' && e.cloudevents?.mode === 'binary' && e.batch && e.batch.maxevents > 1) {
    ctx.addIssue({
      code: 'custom',
      path: ['batch'],
      message: 'binary CloudEvents carry one event per request: use cloudevents.mode structured to batch, or batch.maxevents 1',
    });
  }
}

/** Distribution's `notifications.endpoints[]`, plus Dockyard's delivery options. */
export const endpointSchema = z.strictObject({
  // Distribution's keys
  name: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/, 'name must be 1-64 letters, digits, ".", "_" or "-"'),
  url: z.url({ protocol: /^(https?|nats|tls)$/, message: 'url must be an http://, https://, nats:// or tls:// URL' }),
  disabled: bool.default(false),
  headers: z.record(z.string(), z.union([z.string(), z.array(z.string())])).default({}),
  // As in Distribution, a timeout or back-off of 0 (or less) means one second.
  timeout: duration.transform(atLeastASecondIfZero).default(5_000),
  threshold: int(0).default(5),
  backoff: duration.transform(atLeastASecondIfZero).default(1_000),
  ignoredmediatypes: z.array(z.string()).default([]),
  ignore: z
    .strictObject({
      mediatypes: z.array(z.string()).default([]),
      actions: z.array(z.enum(['push', 'pull', 'delete', 'mount'])).default([]),
    })
    .prefault({}),
  // Dockyard's keys
  repositories: z
    .strictObject({ include: z.array(z.string()).default([]), exclude: z.array(z.string()).default([]) })
    .prefault({}),
  includehead: bool.default(false),
  /** Give up (dead-letter) after this many attempts; 0 means no limit. */
  maxattempts: int(0).default(0),
  /** Give up (dead-letter) on events older than this; 0 means no limit. */
  maxage: duration.default(72 * HOUR),
  /** Longest wait between two attempts (Retry-After may ask for up to an hour). */
  maxbackoff: duration.default(5 * 60_000),
  /** One Standard Webhooks secret, or a list (each attempt is signed with every one: rotation without a gap). */
  secret: z.union([webhookSecret, z.array(webhookSecret).min(1, 'secret: a list needs at least one secret')]).optional(),
  /** `v1a` signatures: `ed25519: true` generates a key pair kept with the outbox; or the private key, `whsk_...`. */
  signing: z.strictObject({ ed25519: z.union([ed25519PrivateKey, bool]).default(false) }).optional(),
  batch: z
    .strictObject({
      maxevents: int(1, 10_000).default(100),
      maxwait: duration.default(50),
    })
    .optional(),
  tls: z
    .strictObject({
      ca: z.string().optional(),
      certificate: z.string().optional(),
      key: z.string().optional(),
      insecureskipverify: bool.default(false),
    })
    .refine((t) => (t.certificate === undefined) === (t.key === undefined), {
      message: 'tls.certificate and tls.key must be given together',
    })
    .optional(),
  /** `v1`: Distribution 2.x's media type; `v2`: Distribution 3's; `cloudevents`: CloudEvents 1.0 over HTTP. */
  envelope: z.enum(['v1', 'v2', 'cloudevents']).default('v1'),
  /** With `envelope: cloudevents`: structured (the event in the body, the default) or binary (`ce-*` headers). */
  cloudevents: z.strictObject({ mode: z.enum(['structured', 'binary']).default('structured') }).optional(),
  /** With a `nats://` or `tls://` url: publish to JetStream (the stream is created when missing). */
  jetstream: z
    .strictObject({
      stream: z.string().regex(/^[A-Za-z0-9_-]{1,255}$/, 'jetstream.stream must be 1-255 letters, digits, "_" or "-"'),
      subject: z
        .string()
        .regex(/^[^\s.*>]+(\.[^\s.*>]+)*$/, 'jetstream.subject must be dot-separated tokens without spaces or wildcards'),
      /** Of a stream created here (an existing one keeps its own): longer than maxbackoff, as long as redeliveries should be dropped. */
      duplicatewindow: duration.default(HOUR),
    })
    .optional(),
}).superRefine((e, ctx) => {
  // The url's scheme and the jetstream block say the same thing: either both say NATS or neither.
  const nats = /^(nats|tls):/i.test(e.url);
  if (nats && !e.jetstream) {
    ctx.addIssue({ code: 'custom', path: ['jetstream'], message: `a ${e.url.split(':')[0]}:// url needs a jetstream block ({stream, subject})` });
  } else if (!nats && e.jetstream) {
    ctx.addIssue({ code: 'custom', path: ['url'], message: 'an endpoint with a jetstream block needs a nats:// or tls:// url' });
  }
  if (e.jetstream && e.envelope === 'cloudevents') {
    // The NATS binding of CloudEvents is not written yet: refused rather than sent as something else.
    ctx.addIssue({ code: 'custom', path: ['envelope'], message: 'a jetstream endpoint sends envelope v1 or v2; cloudevents is for http(s) endpoints' });
  }
});

/** One endpoint as the config and the operator API (`POST /notifications/endpoints`) take it. */
export const fullEndpointSchema = endpointSchema.superRefine(cloudEventsFit);

/**
 * An endpoint definition from outside the config file (the operator API, the outbox's stored
 * runtime endpoints): the config's own schema and mapping, so both mean exactly the same.
 */
export const parseEndpoint: EndpointParse = (definition) => {
  const parsed = fullEndpointSchema.safeParse(definition);
  if (!parsed.success) {
    return { ok: false, issues: parsed.error.issues.map((i) => ({ path: i.path.join('.'), message: i.message })) };
  }
  return { ok: true, options: endpointOptions(parsed.data), disabled: parsed.data.disabled };
};

/**
 * `notifications.outbox.postgres`: a URL (or, without one, node-postgres's PG* environment
 * variables: PGHOST, PGUSER, PGPASSWORD, PGDATABASE, PGSSLMODE...), and TLS as `pg` takes it,
 * from files.
 */
const postgresSchema = z.strictObject({
  url: z
    .string()
    .regex(/^postgres(ql)?:\/\//, 'url must be a postgres:// URL')
    .optional(),
  ssl: z
    .strictObject({
      ca: z.string().optional(),
      certificate: z.string().optional(),
      key: z.string().optional(),
      insecureskipverify: bool.default(false),
    })
    .optional(),
  connecttimeout: duration.default(10_000),
});

export const notificationsSchema = z
  .strictObject({
    events: z.strictObject({ includereferences: bool.default(false) }).prefault({}),
    endpoints: z
      .array(fullEndpointSchema)
      .default([])
      .refine((eps) => new Set(eps.map((e) => e.name)).size === eps.length, { message: 'endpoint names must be unique' }),
    outbox: z
      .strictObject({
        /** SQLite file; default `<storage.filesystem.rootdirectory>/_notifications/outbox.sqlite`. */
        path: z.string().min(1).optional(),
        /** How long delivered events are kept for redelivery. */
        retention: duration.default(24 * HOUR),
        /** How long dead letters (and queued events of endpoints no longer configured) are kept. */
        deadletterretention: duration.default(30 * 24 * HOUR),
        /** The shared outbox of replicas, instead of the SQLite file. */
        postgres: postgresSchema.optional(),
      })
      .refine((o) => !(o.path !== undefined && o.postgres !== undefined), {
        message: 'outbox.path names an SQLite file and outbox.postgres a database: give one of them',
      })
      .prefault({}),
    /** The operator API (`/notifications/...`) when auth is off: loopback clients only, unless allowremote. */
    admin: z
      .strictObject({
        allowremote: bool.default(false),
        /** Runtime endpoints may target loopback, private and link-local addresses (the SSRF guard off). */
        allowprivatetargets: bool.default(false),
        /** Targets a runtime endpoint may have despite the guard: hosts, `host:port`, or CIDRs. */
        allowtargets: z.array(z.string().min(1)).default([]),
      })
      .prefault({}),
  })
  .prefault({});

export type EndpointConfig = z.infer<typeof endpointSchema>;
export type NotificationsConfig = z.infer<typeof notificationsSchema>;

/**
 * The one place the config's Distribution-cased keys become notify's own options. The outbox
 * defaults to `<storageRoot>/_notifications/outbox.sqlite`; intents are as durable as storage
 * (`durable`: whether storage fsyncs).
 */
export function notifyOptions(
  config: NotificationsConfig,
  defaults: { storageRoot: string; durable?: boolean; deliver?: boolean },
): NotifyOptions {
  return {
    deliver: defaults.deliver ?? true,
    endpoints: config.endpoints.filter((e) => !e.disabled).map(endpointOptions),
    disabledEndpoints: config.endpoints.filter((e) => e.disabled).map((e) => e.name),
    includeReferences: config.events.includereferences,
    targets: { allowPrivate: config.admin.allowprivatetargets, allow: config.admin.allowtargets },
    outbox: {
      file: config.outbox.path ?? path.join(defaults.storageRoot, '_notifications', 'outbox.sqlite'),
      postgres: config.outbox.postgres ? postgresOptions(config.outbox.postgres) : null,
      retentionMs: config.outbox.retention,
      deadLetterRetentionMs: config.outbox.deadletterretention,
      durableIntents: defaults.durable ?? true,
    },
  };
}

function postgresOptions(p: NonNullable<NotificationsConfig['outbox']['postgres']>): PostgresOutboxOptions {
  const ssl = p.ssl
    ? {
        ...(p.ssl.ca ? { ca: readFileSync(p.ssl.ca, 'utf8') } : {}),
        ...(p.ssl.certificate ? { cert: readFileSync(p.ssl.certificate, 'utf8') } : {}),
        ...(p.ssl.key ? { key: readFileSync(p.ssl.key, 'utf8') } : {}),
        rejectUnauthorized: !p.ssl.insecureskipverify,
      }
    : null;
  return { url: p.url ?? process.env.DOCKYARD_OUTBOX_POSTGRES_URL ?? null, ssl, connectTimeoutMs: p.connecttimeout };
}

export function endpointOptions(e: EndpointConfig): EndpointOptions {
  return {
    name: e.name,
    url: e.url,
    headers: e.headers,
    timeoutMs: e.timeout,
    filter: {
      ignoredMediaTypes: [...e.ignoredmediatypes, ...e.ignore.mediatypes],
      ignoredActions: e.ignore.actions,
      includeHead: e.includehead,
      repositories: { include: e.repositories.include, exclude: e.repositories.exclude },
    },
    retry: {
      threshold: e.threshold,
      backoffMs: e.backoff,
      maxBackoffMs: e.maxbackoff,
      maxAttempts: e.maxattempts,
      maxAgeMs: e.maxage,
    },
    batch: { maxEvents: e.batch?.maxevents ?? 1, maxWaitMs: e.batch?.maxwait ?? 0 },
    secrets: e.secret === undefined ? [] : typeof e.secret === 'string' ? [e.secret] : e.secret,
    ed25519: typeof e.signing?.ed25519 === 'string' ? { privateKey: e.signing.ed25519 } : e.signing?.ed25519 ? 'generate' : null,
    tls: e.tls
      ? {
          caFile: e.tls.ca ?? null,
          certificateFile: e.tls.certificate ?? null,
          keyFile: e.tls.key ?? null,
          insecureSkipVerify: e.tls.insecureskipverify,
        }
      : null,
    envelope: e.envelope,
    cloudEventsMode: e.cloudevents?.mode ?? 'structured',
    jetstream: e.jetstream
      ? { stream: e.jetstream.stream, subject: e.jetstream.subject, duplicateWindowMs: e.jetstream.duplicatewindow }
      : null,
  };
}
