/**
 * Writes docs/configuration.md, the configuration reference, generated from the zod schema in
 * src/config/schema.ts (and the schemas it composes) and the key lists in src/config/known-keys.ts.
 * Run after changing either:
 *   npm run docs:config
 * A test (test/docs/config-reference.test.ts) fails when the committed page and the generated one differ.
 *
 * The schema is walked rather than passed through z.toJSONSchema: with `io: 'input'` that drops the
 * defaults behind our preprocessors (`bool`, `int`) and cannot tell a duration (`10s`, given as text,
 * kept as milliseconds) from any other string-or-number. The schema's comments are JSDoc, not
 * `.describe()`, so the descriptions are the table below, keyed by path; the test checks that every
 * path in it is a key of the schema.
 */
import { writeFileSync } from 'node:fs';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { configSchema } from '../src/config/schema.ts';
import { DISTRIBUTION_KEYS_REFUSED, DISTRIBUTION_TUNING_KEYS_NOT_IMPLEMENTED } from '../src/config/known-keys.ts';
import { duration } from '../src/config/types.ts';

/** The part of a zod 4 schema's internal definition this walk reads. */
interface Def {
  type: string;
  innerType?: Schema;
  defaultValue?: unknown;
  in?: Schema;
  out?: Schema;
  transform?: unknown;
  shape?: Record<string, Schema>;
  element?: Schema;
  valueType?: Schema;
  options?: Schema[];
  entries?: Record<string, string>;
  values?: unknown[];
  format?: string;
  checks?: { _zod: { def: { check: string; value?: unknown; format?: string } } }[];
}
interface Schema {
  _zod: { def: Def };
}

export interface ConfigKey {
  key: string;
  type: string;
  default: string;
  distribution: string;
  description: string;
}

const def = (s: unknown): Def => (s as Schema)._zod.def;
const DURATION_PARSE = def(def(duration).out).transform;

/** Keys (and everything below them) that Distribution does not have. */
const DOCKYARD_ONLY = [
  'http.trustedproxies',
  'storage.filesystem.fsync',
  'storage.gc',
  'notifications.outbox',
  'notifications.admin',
  'notifications.endpoints[].repositories',
  'notifications.endpoints[].includehead',
  'notifications.endpoints[].maxattempts',
  'notifications.endpoints[].maxage',
  'notifications.endpoints[].maxbackoff',
  'notifications.endpoints[].secret',
  'notifications.endpoints[].signing',
  'notifications.endpoints[].batch',
  'notifications.endpoints[].tls',
  'notifications.endpoints[].envelope',
  'notifications.endpoints[].cloudevents',
  'notifications.endpoints[].jetstream',
  'auth.htpasswd.admins',
  'auth.htpasswd.access',
  'auth.tokenservice',
  'ui',
];

/** Short, and only what the code does (src/config/*.ts and the README say more). */
export const DESCRIPTIONS: Readonly<Record<string, string>> = {
  version: 'Accepted as Distribution\'s files have it (`0.1`); not otherwise used.',
  log: 'The log on stdout.',
  'log.level': 'Lowest level written.',
  'log.formatter': '`json` lines; `text`, readable lines for a terminal (Dockyard\'s value); Distribution\'s `logstash` writes the `json` lines, with a warning.',
  'log.fields': 'Fields added to every line.',
  'log.accesslog': 'One JSON line per request (pino-http); README, "Logs".',
  'log.accesslog.disabled': 'No line per request (the rest of the log stays).',
  'http.addr': 'Where the registry listens, `host:port`; `:5000` is every interface. Distribution\'s sample listens on every interface; Dockyard\'s default is loopback.',
  'http.host': 'The public URL: absolute `Location` headers and the URLs in events. Set it behind a reverse proxy.',
  'http.net': 'Only `tcp`; Distribution\'s `unix` stops the start.',
  'http.draintimeout': 'How long a stop (SIGTERM, SIGINT) waits for requests in flight before cutting their connections. Distribution\'s default, 0, cuts them at once.',
  'http.headers': 'Headers added to every response.',
  'http.trustedproxies': 'Addresses or CIDRs of proxies whose `X-Forwarded-For` (and `X-Request-Id`) is believed: the client address in events and logs, and the loopback check of the operator API.',
  'http.tls': 'Serve HTTPS (HTTP/1.1 over TLS) on `http.addr`. The files are read at start; one that does not load stops it.',
  'http.tls.certificate': 'PEM certificate file, the chain after the server\'s certificate.',
  'http.tls.key': 'PEM private key file of the certificate.',
  'http.tls.clientcas': 'PEM CA files: with any, every client must present a certificate signed by one (mutual TLS).',
  'http.tls.clientauth': 'Only Distribution\'s default mode is implemented.',
  'http.tls.minimumtls': 'Lowest TLS version offered; `tls1.0` and `tls1.1` stop the start.',
  'http.tls.ciphersuites': 'The TLS 1.2 suites offered, in order, by Go\'s names as Distribution takes them: the ECDHE ones (`TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256`, ...), given to OpenSSL by its names; empty: Node\'s defaults. TLS 1.3 names are taken and change nothing (TLS 1.3 keeps its suites, as in Go). An unknown name, a static-RSA or 3DES suite, or TLS 1.3 names only stop the start.',
  'http.debug': 'The debug listener, off the public port.',
  'http.debug.addr': 'The debug listener, where metrics are served; off when absent.',
  'http.debug.prometheus.enabled': 'Serve Prometheus metrics on the debug listener.',
  'http.debug.prometheus.path': 'Path of the metrics on the debug listener.',
  storage: 'Exactly one driver: `filesystem` (the default) or `s3`.',
  'storage.filesystem.rootdirectory': 'The data root, in Distribution\'s layout; with it, the outbox (`_notifications/`) and the token key (`_auth/`).',
  'storage.filesystem.fsync': 'Fsync every file and the directories it lands in before a change is acknowledged (an upload session\'s own files when the completed blob moves into place).',
  'storage.s3': 'Distribution\'s S3 driver instead of `storage.filesystem`; the bucket is checked at start.',
  'storage.s3.region': 'AWS region; required unless `regionendpoint` is given.',
  'storage.s3.bucket': 'The bucket.',
  'storage.s3.regionendpoint': 'Endpoint of S3-compatible storage (MinIO, Ceph RGW, R2...); absent: AWS.',
  'storage.s3.forcepathstyle': 'Path-style bucket addressing.',
  'storage.s3.accesskey': 'With `secretkey`; both absent: the default AWS credential chain.',
  'storage.s3.secretkey': 'With `accesskey`.',
  'storage.s3.rootdirectory': 'A prefix in the bucket.',
  'storage.s3.encrypt': 'Server-side encryption.',
  'storage.s3.keyid': 'KMS key id, with `encrypt`.',
  'storage.s3.secure': '`false`: plain http to the endpoint.',
  'storage.s3.skipverify': 'Do not verify the endpoint\'s TLS certificate.',
  'storage.s3.v4auth': 'Signature v4 is all that is spoken: `false` stops the start.',
  'storage.s3.storageclass': 'Storage class of the objects, in any case; `NONE` sends none.',
  'storage.s3.chunksize': 'Multipart part size in bytes (at least 5 MiB): the memory per upload.',
  'storage.s3.multipartcopychunksize': 'Part size in bytes of server-side multipart copies.',
  'storage.s3.multipartcopythresholdsize': 'Objects larger than this many bytes are copied in parts.',
  'storage.delete.enabled': '`false`: every `DELETE` answers 405 `UNSUPPORTED`.',
  'storage.redirect.disable': 'Blob `GET`s answer 307 to a presigned URL when the driver has one (S3), unless this is `true`.',
  'storage.cache.blobdescriptor':
    "Dockyard always keeps in memory what a manifest digest names (its bytes up to 256 KiB, its media type, its revision link's form), never whether anything exists: a HEAD or GET by tag reads the tag's link and checks that two files are there. Nothing in it can go stale, so it is right beside replicas and `dockyard gc`; `redis` (a cache shared by replicas) is accepted with a warning that it is not used.",
  'storage.cache.layerinfo': "Distribution's older name of `blobdescriptor`.",
  'storage.cache.blobdescriptorsize': 'Digests the cache keeps at most (and at most 16 MiB of manifest bytes in all), the oldest dropped first.',
  'storage.maintenance.uploadpurging.enabled': 'Remove abandoned upload sessions (and, on S3, incomplete multipart uploads).',
  'storage.maintenance.uploadpurging.age': 'Sessions older than this are removed.',
  'storage.maintenance.uploadpurging.interval': 'How often the purger runs.',
  'storage.maintenance.uploadpurging.dryrun': 'Log what would be removed, remove nothing.',
  'storage.maintenance.readonly.enabled': 'Every write answers 405 `UNSUPPORTED`, reads are served; upload purging and scheduled garbage collection do not run.',
  'storage.gc': 'Online garbage collection in the serving process (README, "Garbage collection").',
  'storage.gc.enabled': 'Run a collection every `interval`.',
  'storage.gc.interval': 'How often the collection runs.',
  'storage.gc.delay': 'Grace period: nothing written in the last `delay` is removed. Must exceed the longest push and clock skew.',
  'storage.gc.deleteuntagged': 'Also remove manifests no tag reaches (children of kept indexes and referrers of kept manifests stay).',
  auth: 'Absent: no authentication. `htpasswd` and `token` exclude each other.',
  'auth.htpasswd': 'Basic auth against an htpasswd file.',
  'auth.htpasswd.realm': 'Realm of the Basic challenge.',
  'auth.htpasswd.path': 'The htpasswd file (bcrypt entries); must exist at start; re-read when it changes.',
  'auth.htpasswd.admins': 'Accounts that may use the operator API (`/notifications/...`).',
  'auth.htpasswd.access': 'Access rules; absent: every authenticated user may do everything, as in Distribution.',
  'auth.htpasswd.access[].account': 'An account, `*` (any authenticated user) or `anonymous`.',
  'auth.htpasswd.access[].repositories': 'Repository patterns: `*` matches one path component, `**` any number.',
  'auth.htpasswd.access[].actions': 'What the rule allows; `*` is all three.',
  'auth.token': 'Bearer tokens (Docker\'s token flow). Needs `rootcertbundle`, `jwks` or `auth.tokenservice` to verify them.',
  'auth.token.realm': 'Where clients get tokens, an absolute URL.',
  'auth.token.service': 'The tokens\' audience (`aud`).',
  'auth.token.issuer': 'The tokens\' issuer (`iss`).',
  'auth.token.rootcertbundle': 'PEM certificates: a token\'s `x5c` chain must lead to one, or its `kid` be one\'s key id.',
  'auth.token.jwks': 'A JWKS file, or an https:// URL (cached, fetched again on an unknown `kid`).',
  'auth.token.autoredirect': 'The realm is `autoredirectpath` on whatever host the client used.',
  'auth.token.autoredirectpath': 'The realm\'s path with `autoredirect`.',
  'auth.token.signingalgorithms': 'Narrows the accepted algorithms (asymmetric only; absent: all of these).',
  'auth.tokenservice': 'The built-in token service at `/auth/token` (needs `auth.token`); publishes its key at `/auth/jwks.json`.',
  'auth.tokenservice.htpasswd': 'The htpasswd file whose users get tokens.',
  'auth.tokenservice.key': 'PEM private key; absent: `<rootdirectory>/_auth/token-key.pem`, generated when missing. Replicas must share one.',
  'auth.tokenservice.expiration': 'Lifetime of access tokens.',
  'auth.tokenservice.refreshexpiration': 'Lifetime of refresh tokens.',
  'auth.tokenservice.admins': 'Accounts granted the operator API (`registry:admin:*`).',
  'auth.tokenservice.access': 'Access rules; empty: no repository access for anyone.',
  'auth.tokenservice.access[].account': 'An account, `*` (any authenticated user) or `anonymous`.',
  'auth.tokenservice.access[].repositories': 'Repository patterns: `*` matches one path component, `**` any number.',
  'auth.tokenservice.access[].actions': 'What the rule allows; `*` is all three.',
  'notifications.events.includereferences': 'Manifest events list the descriptors they reference.',
  'notifications.endpoints': 'Where events are delivered; each endpoint has its own durable queue. Names are unique.',
  'notifications.endpoints[].name': 'The endpoint\'s name (in the operator API and metrics): 1-64 letters, digits, `.`, `_`, `-`.',
  'notifications.endpoints[].url': 'An http(s) URL, or `nats://` / `tls://` with `jetstream`.',
  'notifications.endpoints[].disabled': 'Configured but not delivered to.',
  'notifications.endpoints[].headers': 'Headers sent with every request.',
  'notifications.endpoints[].timeout': 'Per attempt; 0 means 1 s.',
  'notifications.endpoints[].threshold': 'Quick attempts before backing off.',
  'notifications.endpoints[].backoff': 'First back-off, doubling with jitter up to `maxbackoff`; 0 means 1 s.',
  'notifications.endpoints[].ignoredmediatypes': 'Events of targets with these media types are not sent.',
  'notifications.endpoints[].ignore.mediatypes': 'As `ignoredmediatypes`.',
  'notifications.endpoints[].ignore.actions': 'Events of these actions are not sent.',
  'notifications.endpoints[].repositories.include': 'Only repositories matching one of these patterns; empty: all.',
  'notifications.endpoints[].repositories.exclude': 'Repositories matching one of these patterns are left out.',
  'notifications.endpoints[].includehead': '`HEAD` requests count as pulls.',
  'notifications.endpoints[].maxattempts': 'Dead-letter an event after this many attempts; 0: no limit.',
  'notifications.endpoints[].maxage': 'Dead-letter failing events older than this; 0: no limit.',
  'notifications.endpoints[].maxbackoff': 'Longest wait between two attempts.',
  'notifications.endpoints[].secret': 'Standard Webhooks signing secret(s), `whsec_...`; a list signs with each (rotation without a gap).',
  'notifications.endpoints[].signing.ed25519': '`v1a` signatures too: `true` generates a key pair kept with the outbox, or the private key `whsk_...`.',
  'notifications.endpoints[].batch': 'Several events per request; absent: one per request.',
  'notifications.endpoints[].batch.maxevents': 'Most events in one request.',
  'notifications.endpoints[].batch.maxwait': 'Longest wait to fill a batch.',
  'notifications.endpoints[].tls': 'TLS to the endpoint: CA, client certificate (with `key`), PEM files.',
  'notifications.endpoints[].tls.ca': 'PEM CA file to verify the endpoint with.',
  'notifications.endpoints[].tls.certificate': 'PEM client certificate file, with `key`.',
  'notifications.endpoints[].tls.key': 'PEM private key file of the client certificate.',
  'notifications.endpoints[].tls.insecureskipverify': 'Do not verify the endpoint\'s certificate.',
  'notifications.endpoints[].envelope': '`v1`: Distribution 2.x\'s media type; `v2`: Distribution 3\'s; `cloudevents`: CloudEvents 1.0 over HTTP.',
  'notifications.endpoints[].cloudevents.mode': 'With `envelope: cloudevents`: the event in the body (`structured`) or in `ce-*` headers (`binary`, one event per request).',
  'notifications.endpoints[].jetstream': 'With a `nats://` or `tls://` URL: publish to NATS JetStream (envelope `v1` or `v2`).',
  'notifications.endpoints[].jetstream.stream': 'The stream, created when missing.',
  'notifications.endpoints[].jetstream.subject': 'The subject events are published on.',
  'notifications.endpoints[].jetstream.duplicatewindow': 'Duplicate window of a stream created here (an existing stream keeps its own).',
  'notifications.outbox': 'Where events wait for delivery: an SQLite file, or PostgreSQL shared by replicas (not both).',
  'notifications.outbox.path': 'The SQLite file; absent: `<storage.filesystem.rootdirectory>/_notifications/outbox.sqlite` (with S3: `./data/...`).',
  'notifications.outbox.retention': 'How long delivered events are kept for redelivery and replay.',
  'notifications.outbox.deadletterretention': 'How long dead letters (and events of endpoints no longer configured) are kept.',
  'notifications.outbox.postgres': 'The shared outbox in PostgreSQL (schema `dockyard`, created or upgraded at start).',
  'notifications.outbox.postgres.url': 'A postgres:// URL; absent: `DOCKYARD_OUTBOX_POSTGRES_URL`, else node-postgres\'s `PG*` variables.',
  'notifications.outbox.postgres.ssl': 'TLS to the database, PEM files.',
  'notifications.outbox.postgres.ssl.ca': 'PEM CA file to verify the server with.',
  'notifications.outbox.postgres.ssl.certificate': 'PEM client certificate file.',
  'notifications.outbox.postgres.ssl.key': 'PEM private key file of the client certificate.',
  'notifications.outbox.postgres.ssl.insecureskipverify': 'Do not verify the server\'s certificate.',
  'notifications.outbox.postgres.connecttimeout': 'How long a connection may take.',
  'notifications.admin.allowremote': 'With auth off, the operator API answers clients other than loopback (after trusted proxies).',
  'notifications.admin.allowprivatetargets': '`true`: endpoints created through the operator API may target loopback, private and link-local addresses (the SSRF guard off).',
  'notifications.admin.allowtargets': 'Targets runtime endpoints may have despite the SSRF guard: hosts, `host:port` or CIDRs (config endpoints are never checked).',
  'ui.enabled': '`false`: the image import (`POST /ui/import`) is not registered.',
  'ui.import.maxsize': 'Largest archive `POST /ui/import` accepts, in bytes (413 `TOO_LARGE` beyond); spooled in `<rootdirectory>/_import` while imported.',
  'health.storagedriver': 'Absent: `/readyz` checks the storage at each request (within 2 s). Present: as `enabled` says.',
  'health.storagedriver.enabled': '`true`: a background check every `interval`, `/readyz` answers its last result; `false`: `/readyz` does not check the storage.',
  'health.storagedriver.interval': 'How often the background check runs.',
  'health.storagedriver.threshold': 'Failed checks in a row before the storage counts as failing.',
};

/** What a walk learns of one schema, wrappers taken off. */
interface Shape {
  schema: Schema;
  duration: boolean;
  defaultValue: unknown;
  hasDefault: boolean;
  optional: boolean;
}

function unwrap(schema: Schema): Shape {
  const shape: Shape = { schema, duration: false, defaultValue: undefined, hasDefault: false, optional: false };
  for (;;) {
    const d = def(shape.schema);
    if (d.type === 'default' && d.innerType) {
      if (!shape.hasDefault) shape.defaultValue = d.defaultValue;
      shape.hasDefault = true;
      shape.schema = d.innerType;
    } else if ((d.type === 'prefault' || d.type === 'optional') && d.innerType) {
      shape.optional = true;
      shape.schema = d.innerType;
    } else if (d.type === 'pipe' && d.in && d.out) {
      const [input, output] = [def(d.in), def(d.out)];
      if (output.type === 'transform' && output.transform === DURATION_PARSE) {
        shape.duration = true;
        return shape;
      }
      // A preprocessor (bool, int, storage's check) reads as what it feeds; a transform as what it reads;
      // a pipe into an enum (storageclass) as the enum.
      if (input.type === 'transform') shape.schema = d.out;
      else if (output.type === 'transform') shape.schema = d.in;
      else shape.schema = output.type === 'enum' || output.type === 'literal' ? d.out : d.in;
    } else {
      return shape;
    }
  }
}

function typeText(shape: Shape): string {
  if (shape.duration) return 'duration';
  const d = def(shape.schema);
  switch (d.type) {
    case 'object':
      return 'section';
    case 'string':
      return d.format === 'url' ? 'URL' : 'string';
    case 'boolean':
      return 'boolean';
    case 'number':
      return numberText(d);
    case 'enum':
      return Object.values(d.entries ?? {}).map((v) => `\`${v}\``).join(' \\| ');
    case 'literal':
      return (d.values ?? []).map((v) => `\`${String(v)}\``).join(' \\| ');
    case 'unknown':
      return 'any';
    case 'array':
      return `list of ${plural(typeText(unwrap(d.element!)))}`;
    case 'record':
      return `map of string to ${typeText(unwrap(d.valueType!))}`;
    case 'union':
      return (d.options ?? []).map((o) => typeText(unwrap(o))).join(' or ');
    default:
      throw new Error(`generate-config-reference: no text for a zod "${d.type}"; add it to typeText`);
  }
}

function plural(type: string): string {
  if (type === 'section') return 'sections';
  return /^(string|boolean|integer|URL|duration)$/.test(type) ? `${type}s` : type;
}

function numberText(d: Def): string {
  const checks = (d.checks ?? []).map((c) => c._zod.def);
  const integer = checks.some((c) => c.check === 'number_format' && /int/.test(c.format ?? ''));
  const min = checks.find((c) => c.check === 'greater_than')?.value as number | undefined;
  const max = checks.find((c) => c.check === 'less_than')?.value as number | undefined;
  const range = [
    min !== undefined && min > Number.MIN_SAFE_INTEGER ? `≥ ${min}` : '',
    max !== undefined && max < Number.MAX_SAFE_INTEGER ? `≤ ${max}` : '',
  ].filter(Boolean);
  return `${integer ? 'integer' : 'number'}${range.length ? ` ${range.join(', ')}` : ''}`;
}

/** Milliseconds as the shortest Go duration that says them: 168h, 5m, 10s, 50ms. */
export function goDuration(ms: number): string {
  if (ms === 0) return '0';
  for (const [unit, size] of [['h', 3_600_000], ['m', 60_000], ['s', 1000]] as const) {
    if (ms % size === 0) return `${ms / size}${unit}`;
  }
  return `${ms}ms`;
}

function defaultText(shape: Shape): string {
  if (!shape.hasDefault) return shape.optional ? '' : 'required';
  const v = shape.defaultValue;
  if (shape.duration && typeof v === 'number') return `\`${goDuration(v)}\``;
  if (v === '') return '`""`';
  if (typeof v === 'object' && v !== null) return `\`${JSON.stringify(v)}\``;
  return `\`${String(v)}\``;
}

function distributionText(key: string): string {
  return DOCKYARD_ONLY.some((k) => key === k || key.startsWith(`${k}.`) || key.startsWith(`${k}[]`))
    ? 'Dockyard only'
    : 'same key';
}

/** Every key of the schema, depth first in the schema's order; list items as `key[].child`. */
export function configKeys(): ConfigKey[] {
  const rows: ConfigKey[] = [];
  const visit = (schema: Schema, key: string): void => {
    const shape = unwrap(schema);
    rows.push({
      key,
      type: typeText(shape),
      default: defaultText(shape),
      distribution: distributionText(key),
      description: DESCRIPTIONS[key] ?? '',
    });
    const d = def(shape.schema);
    if (d.type === 'object') children(d, key);
    if (d.type === 'array' && !shape.duration) {
      const element = unwrap(d.element!);
      if (def(element.schema).type === 'object') children(def(element.schema), `${key}[]`);
    }
  };
  const children = (d: Def, prefix: string): void => {
    for (const [name, child] of Object.entries(d.shape ?? {})) visit(child, prefix ? `${prefix}.${name}` : name);
  };
  children(def(configSchema), '');
  return rows;
}

const cell = (text: string): string => text.replaceAll('\n', ' ');

/** The whole page, as committed in docs/configuration.md. */
export function renderConfigReference(): string {
  const rows = configKeys();
  const out: string[] = [
    '# Configuration reference',
    '',
    '<!-- Generated by scripts/generate-config-reference.ts from src/config/schema.ts: do not edit; run `npm run docs:config`. -->',
    '',
    'Every key Dockyard reads, in CNCF Distribution\'s names. The file is YAML (`dockyard serve config.yml`); each key',
    'can also be set from the environment as Distribution names it: `REGISTRY_` and the key in capitals, dots as',
    'underscores (`REGISTRY_HTTP_ADDR`, `REGISTRY_STORAGE_FILESYSTEM_ROOTDIRECTORY`); a value that opens with `[` or `{`',
    'sets a whole list or section as YAML. `dockyard config check` prints the effective configuration.',
    '',
    '- **type**: a *duration* is Go\'s form (`500ms`, `10s`, `1h30m`, `168h`; a bare number is nanoseconds, as in Go);',
    '  a *section* is a mapping of the keys below it; `key[].child` is a key of each item of a list.',
    '- **default**: the value when the key is absent; *required*: the key must be given when its section is;',
    '  empty: absent means off, or none (the description says).',
    '- **Distribution**: *same key* is read as Distribution reads it (where values or defaults differ, the',
    '  description says); *Dockyard only* is not in Distribution\'s configuration.',
    '- Any key not listed here or below stops the start (`unknown configuration key ...`).',
    '',
  ];
  for (const section of rows.filter((r) => !r.key.includes('.') && !r.key.includes('['))) {
    out.push(`## \`${section.key}\``, '');
    out.push('| key | type | default | Distribution | description |', '|---|---|---|---|---|');
    for (const r of rows.filter((r) => r.key === section.key || r.key.startsWith(`${section.key}.`))) {
      out.push(`| \`${r.key}\` | ${cell(r.type)} | ${cell(r.default)} | ${r.distribution} | ${cell(r.description)} |`);
    }
    out.push('');
  }
  out.push(
    '## Distribution keys not implemented',
    '',
    'From the file or the environment (src/config/known-keys.ts). A key listed covers everything below it. *Refused*:',
    'keys that change who may do what, where the data is kept or how it travels; running without them would be',
    'another registry than the one configured. *Ignored*: keys that only tune.',
    '',
    '| key | Distribution | what Dockyard does |',
    '|---|---|---|',
    ...DISTRIBUTION_KEYS_REFUSED.map((k) => `| \`${k}\` | not implemented: refused | the start stops, naming the key |`),
    ...DISTRIBUTION_TUNING_KEYS_NOT_IMPLEMENTED.map((k) => `| \`${k}\` | not implemented: ignored | the log names it; the start goes on |`),
    '',
  );
  return out.join('\n');
}

const target = fileURLToPath(new URL('../docs/configuration.md', import.meta.url));

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  writeFileSync(target, renderConfigReference());
  process.stdout.write(`wrote ${target} (${configKeys().length} keys)\n`);
}
