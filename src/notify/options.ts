/**
 * What notifications are told to do, in their own words: mapped once from the configuration's
 * Distribution-cased keys (`notifyOptions`, beside the config schema in src/config), so nothing
 * here reads the config. Handed to the delivery thread in its workerData, so plain data only (no
 * functions, no class instances).
 */
export interface NotifyOptions {
  /** The endpoints to deliver to (the config's disabled ones left out). */
  endpoints: EndpointOptions[];
  /** Endpoints in the configuration but switched off there: not delivered to, yet not "removed". */
  disabledEndpoints: string[];
  /** Manifest events carry the manifest's references (`events.includereferences`). */
  includeReferences: boolean;
  /** Where runtime endpoints may deliver (`notifications.admin.allowprivatetargets` / `allowtargets`). */
  targets: TargetPolicy;
  outbox: OutboxOptions;
  /**
   * false: a guest of another process's outbox (`dockyard gc` beside a serving registry). Its
   * changes' events are queued as usual, but it delivers nothing and settles no interrupted
   * change: the registry serving the outbox does both.
   */
  deliver: boolean;
}

export interface OutboxOptions {
  /** The SQLite file (the embedded outbox; unused with `postgres`). */
  file: string;
  /** The shared outbox in PostgreSQL instead of the SQLite file, or null. */
  postgres: PostgresOutboxOptions | null;
  /** How long delivered events are kept for redelivery. */
  retentionMs: number;
  /** How long dead letters (and queued events of endpoints no longer configured) are kept. */
  deadLetterRetentionMs: number;
  /**
   * An intent is fsynced before its change touches the store (a power cut cannot lose it while
   * the change survives). Off only when storage itself skips fsync (`storage.filesystem.fsync:
   * false`): a kill still loses nothing, a power cut may lose what was not flushed, as for storage.
   */
  durableIntents: boolean;
}

/** `notifications.outbox.postgres`: a connection as node-postgres takes it. */
export interface PostgresOutboxOptions {
  /** A `postgres://` URL; null: node-postgres reads PGHOST, PGUSER, ... from the environment. */
  url: string | null;
  /** TLS, as node-postgres takes it (PEM contents, read at start), or null. */
  ssl: { ca?: string; cert?: string; key?: string; rejectUnauthorized: boolean } | null;
  connectTimeoutMs: number;
}

export interface EndpointOptions {
  name: string;
  url: string;
  /** Sent with every request, as configured (a list is joined with ", "). */
  headers: Record<string, string | string[]>;
  /** Of one attempt: connecting, the response headers, and the body each. */
  timeoutMs: number;
  filter: EndpointFilterOptions;
  retry: RetryOptions;
  /** Events per request; one, unbatched, unless configured. */
  batch: { maxEvents: number; maxWaitMs: number };
  /**
   * Standard Webhooks secrets (`whsec_...`): each attempt carries one `v1` signature per secret,
   * so a consumer rotates without a gap. Empty: no `v1` signatures.
   */
  secrets: string[];
  /**
   * The Ed25519 key of `v1a` signatures (`whsk_...`); `generate` (one kept with the outbox) until
   * the notifier resolves it at start, before the threads start; null: none.
   */
  ed25519: { privateKey: string } | 'generate' | null;
  tls: TlsOptions | null;
  /** `v1`: Distribution 2.x's media type; `v2`: Distribution 3's; `cloudevents`: CloudEvents 1.0. */
  envelope: 'v1' | 'v2' | 'cloudevents';
  /** For `envelope: cloudevents`: the event in the body (`structured`) or its attributes in `ce-*` headers (`binary`). */
  cloudEventsMode: 'structured' | 'binary';
  /** Given for a `nats://` or `tls://` url: events go to this JetStream stream, not over HTTP. */
  jetstream: JetStreamOptions | null;
  /**
   * A runtime endpoint's guard, checked again on every connection (DNS rebinding); absent for a
   * config endpoint, trusted as written.
   */
  targets?: TargetPolicy;
}

/**
 * The SSRF guard of runtime endpoints (endpoint-targets.ts): loopback, private and link-local
 * addresses are refused unless `allowPrivate`, or `allow` names the target (a host, `host:port`,
 * or a CIDR).
 */
export interface TargetPolicy {
  allowPrivate: boolean;
  allow: string[];
}

/** Where a JetStream endpoint publishes: `subject`, stored by `stream` (created when missing). */
export interface JetStreamOptions {
  stream: string;
  subject: string;
  /** The duplicate window of a stream created here: redeliveries within it add no copy. */
  duplicateWindowMs: number;
}

/** Which events an endpoint wants (EventFilter). */
export interface EndpointFilterOptions {
  ignoredMediaTypes: string[];
  ignoredActions: string[];
  /** Pulls made with HEAD count too. */
  includeHead: boolean;
  /** Globs over repository names; an empty `include` takes every repository. */
  repositories: { include: string[]; exclude: string[] };
}

/** How an endpoint's retrying sink retries (see RetryPolicy). */
export interface RetryOptions {
  threshold: number;
  backoffMs: number;
  maxBackoffMs: number;
  /** 0 means no limit. */
  maxAttempts: number;
  /** 0 means no limit. */
  maxAgeMs: number;
}

/** Files, read by the delivery thread when it connects. */
export interface TlsOptions {
  caFile: string | null;
  certificateFile: string | null;
  keyFile: string | null;
  insecureSkipVerify: boolean;
}
