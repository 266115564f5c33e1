import { z } from 'zod';
import { bool, duration, int, listenAddress, positiveDuration } from './types.ts';
import { authSchema, cidrList } from './auth.ts';
import { notificationsSchema } from './notifications.ts';
import { oneStorageDriver, s3Schema, storageCacheSchema } from './storage.ts';
import { tlsSchema } from './tls.ts';
import { uiSchema } from './ui.ts';

const logLevel = z.enum(['error', 'warn', 'info', 'debug']);

/**
 * The configuration we implement, in Distribution's key names. Keys that Distribution knows but
 * we do not implement yet are listed in `known-keys.ts` and removed (with a warning) before this
 * strict schema sees the file, so anything left that it does not know is a mistake.
 */
export const configSchema = z
  .object({
    version: z.union([z.string(), z.number()]).transform(String).default('0.1'),
    log: z
      .strictObject({
        level: logLevel.default('info'),
        /** `json` lines (default), `text` for a terminal; Distribution's `logstash` is written as `json`. */
        formatter: z.enum(['json', 'text', 'logstash']).default('json'),
        /** Added to every line, as Distribution's `log.fields`. */
        fields: z.record(z.string(), z.unknown()).default({}),
        /** The access log (one line per request); `disabled: true` turns it off, as in Distribution. */
        accesslog: z.strictObject({ disabled: bool.default(false) }).prefault({}),
      })
      .prefault({}),
    http: z
      .strictObject({
        addr: listenAddress.default('127.0.0.1:5000'),
        host: z
          .url({ message: 'http.host must be an absolute URL such as https://registry.example.com' })
          .transform((url) => url.replace(/\/+$/, ''))
          .optional(),
        /** Only `tcp` is served; Distribution's `unix` is not implemented and stops the start. */
        net: z.literal('tcp', { message: 'only "tcp" is implemented (a unix socket is not)' }).default('tcp'),
        /**
         * How long a stop (SIGTERM, SIGINT) waits for in-flight requests before cutting their
         * connections. Distribution's key; its default of 0 cuts at once, ours gives them 10 s.
         */
        draintimeout: duration.default(10_000),
        /** Headers added to every response, as Distribution's `http.headers`. */
        headers: z.record(z.string(), z.union([z.string(), z.array(z.string())])).default({}),
        /** Dockyard's: proxies whose X-Forwarded-For names the client (IPs or CIDRs). */
        trustedproxies: cidrList.default([]),
        /** HTTPS (HTTP/1.1 over TLS) instead of plain HTTP, as Distribution's `http.tls`. */
        tls: tlsSchema.optional(),
        debug: z
          .strictObject({
            /** Where /metrics is served, as in Distribution; off when absent. */
            addr: listenAddress.optional(),
            prometheus: z
              .strictObject({ enabled: bool.default(false), path: z.string().startsWith('/').default('/metrics') })
              .prefault({}),
          })
          .prefault({}),
      })
      .prefault({}),
    storage: z
      .preprocess((raw, ctx) => {
        oneStorageDriver(raw, ctx);
        return raw;
      }, z.strictObject({
        filesystem: z
          .strictObject({
            rootdirectory: z.string().min(1).default('./data'),
            /** Dockyard's: fsync files and their directories before a change is acknowledged. */
            fsync: bool.default(true),
          })
          .prefault({}),
        /** Distribution's S3 driver (src/config/storage.ts); storage.filesystem is then not used. */
        s3: s3Schema.optional(),
        delete: z.strictObject({ enabled: bool.default(true) }).prefault({}),
        /** Blob GETs answer 307 to a presigned URL when the driver has one (S3), unless disabled. */
        redirect: z.strictObject({ disable: bool.default(false) }).prefault({}),
        /** Distribution's descriptor cache settings (src/config/storage.ts). */
        cache: storageCacheSchema,
        maintenance: z
          .strictObject({
            uploadpurging: z
              .strictObject({
                enabled: bool.default(true),
                age: duration.default(168 * 3_600_000),
                interval: positiveDuration.default(24 * 3_600_000),
                dryrun: bool.default(false),
              })
              .prefault({}),
            /** Every write refused (405 UNSUPPORTED), reads served: for an offline garbage collection. */
            readonly: z.strictObject({ enabled: bool.default(false) }).prefault({}),
          })
          .prefault({}),
        /**
         * Dockyard's online garbage collection (src/storage/gc): every `interval`, blobs and links no
         * manifest references and older than `delay` are removed (README, "Garbage collection").
         */
        gc: z
          .strictObject({
            enabled: bool.default(false),
            interval: positiveDuration.default(24 * 3_600_000),
            delay: duration.default(3_600_000),
            deleteuntagged: bool.default(false),
          })
          .prefault({}),
      }))
      .prefault({}),
    auth: authSchema,
    notifications: notificationsSchema,
    ui: uiSchema,
    /**
     * Distribution's `health.storagedriver`: when given, a background check of the storage every
     * `interval`, failing readiness after `threshold` failures in a row. Absent: /readyz checks
     * the storage at each request. (`health.file`, `.http`, `.tcp` are ignored, known-keys.ts.)
     */
    health: z
      .strictObject({
        storagedriver: z
          .strictObject({
            enabled: bool.default(false),
            interval: positiveDuration.default(10_000),
            threshold: int(1).default(1),
          })
          .optional(),
      })
      .prefault({}),
  })
  .strict();

export type Config = z.infer<typeof configSchema>;
