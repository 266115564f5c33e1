import { z } from 'zod';
import { DEFAULT_MANIFEST_CACHE, type ManifestCacheOptions } from '../storage/manifest-cache.ts';
import {
  DEFAULT_CHUNK_SIZE,
  DEFAULT_MULTIPART_COPY_CHUNK_SIZE,
  DEFAULT_MULTIPART_COPY_THRESHOLD_SIZE,
  MAX_PART_SIZE,
  MIN_PART_SIZE,
  type S3DriverOptions,
} from '../storage/s3/s3-options.ts';
import { bool, int } from './types.ts';

/** Distribution's instant-retrieval classes; `NONE` sends none (for endpoints that have no classes). */
const STORAGE_CLASSES = ['NONE', 'STANDARD', 'REDUCED_REDUNDANCY', 'STANDARD_IA', 'ONEZONE_IA', 'INTELLIGENT_TIERING', 'OUTPOSTS', 'GLACIER_IR', 'EXPRESS_ONEZONE'] as const;

/** An empty text (a template's unset variable) is the key left out. */
const optionalText = z.preprocess((v) => (v === '' || v === null ? undefined : v), z.string().optional());

/**
 * Distribution's `storage.s3`, the keys we implement. The others it knows (useragent, objectacl,
 * usedualstack, accelerate, usefipsendpoint, multipartcopymaxconcurrency, loglevel, sessiontoken)
 * are refused at load (known-keys.ts), so that none is silently ignored.
 */
export const s3Schema = z
  .strictObject({
    region: optionalText,
    bucket: z.string().min(1),
    regionendpoint: optionalText,
    forcepathstyle: bool.default(false),
    accesskey: optionalText,
    secretkey: optionalText,
    rootdirectory: z.string().default(''),
    encrypt: bool.default(false),
    keyid: optionalText,
    secure: bool.default(true),
    skipverify: bool.default(false),
    /** Signature v4 is all the SDK speaks: `true` is accepted as Distribution's files have it. */
    v4auth: bool.refine((v) => v, { message: 'only signature v4 is implemented (v4auth: false is not)' }).default(true),
    storageclass: z
      .string()
      .transform((s) => s.toUpperCase())
      .pipe(z.enum(STORAGE_CLASSES, { message: `must be one of ${STORAGE_CLASSES.join(', ')}` }))
      .default('STANDARD'),
    chunksize: int(MIN_PART_SIZE, MAX_PART_SIZE).default(DEFAULT_CHUNK_SIZE),
    multipartcopychunksize: int(MIN_PART_SIZE, MAX_PART_SIZE).default(DEFAULT_MULTIPART_COPY_CHUNK_SIZE),
    multipartcopythresholdsize: int(0, MAX_PART_SIZE).default(DEFAULT_MULTIPART_COPY_THRESHOLD_SIZE),
  })
  .superRefine((s3, ctx) => {
    if (!s3.region && !s3.regionendpoint) {
      ctx.addIssue({ code: 'custom', path: ['region'], message: 'a region is required (or a regionendpoint for S3-compatible storage)' });
    }
    if (Boolean(s3.accesskey) !== Boolean(s3.secretkey)) {
      ctx.addIssue({
        code: 'custom',
        path: [s3.accesskey ? 'secretkey' : 'accesskey'],
        message: 'accesskey and secretkey go together (leave both out for the default AWS credential chain)',
      });
    }
  });

export type S3Config = z.infer<typeof s3Schema>;

/**
 * Both drivers' sections are read when given: exactly one may be. Checked on the input, as the
 * filesystem section has defaults and so is always there once parsed.
 */
export function oneStorageDriver(raw: unknown, ctx: z.RefinementCtx): void {
  if (typeof raw !== 'object' || raw === null) return;
  const given = raw as Record<string, unknown>;
  if (given.filesystem !== undefined && given.s3 !== undefined) {
    ctx.addIssue({ code: 'custom', path: ['s3'], message: 'storage.filesystem and storage.s3 are both set: configure exactly one storage driver' });
  }
}

/**
 * Distribution's `storage.cache`. Dockyard keeps in memory only what a manifest digest names (its
 * bytes, media type and revision link form: src/storage/manifest-cache.ts), never whether anything
 * exists, so one process's cache is right beside any other: it is always on, and `redis` (a cache
 * shared by replicas) has nothing to add. `blobdescriptorsize` bounds its entries; `layerinfo` is
 * Distribution's older name of `blobdescriptor`.
 */
export const storageCacheSchema = z
  .strictObject({
    blobdescriptor: z.enum(['inmemory', 'redis']).optional(),
    layerinfo: z.enum(['inmemory', 'redis']).optional(),
    blobdescriptorsize: int(1, 10_000_000).optional(),
  })
  .prefault({});

export type StorageCacheConfig = z.infer<typeof storageCacheSchema>;

/** A warning for a Distribution cache setting that Dockyard has no use for, or null. */
export function storageCacheWarning(cache: StorageCacheConfig): string | null {
  const kind = cache.blobdescriptor ?? cache.layerinfo;
  if (kind !== 'redis') return null;
  return 'storage.cache.blobdescriptor: redis is not used: each Dockyard process keeps its own cache of what manifest digests name (always right, as nothing in it can change), so no Redis is needed';
}

export function manifestCacheOptions(cache: StorageCacheConfig): ManifestCacheOptions {
  return cache.blobdescriptorsize === undefined ? DEFAULT_MANIFEST_CACHE : { ...DEFAULT_MANIFEST_CACHE, maxEntries: cache.blobdescriptorsize };
}

export type StorageOptions =
  | { kind: 'filesystem'; rootDirectory: string; fsync: boolean }
  | { kind: 's3'; s3: S3DriverOptions };

/** The driver that storage config asks for, in the drivers' own (plain, camelCase) option types. */
export function storageOptions(storage: { filesystem: { rootdirectory: string; fsync: boolean }; s3?: S3Config | undefined }): StorageOptions {
  const s3 = storage.s3;
  if (!s3) return { kind: 'filesystem', rootDirectory: storage.filesystem.rootdirectory, fsync: storage.filesystem.fsync };
  return {
    kind: 's3',
    s3: {
      bucket: s3.bucket,
      // The SDK signs for a region even with a custom endpoint; S3-compatible servers take any.
      region: s3.region ?? 'us-east-1',
      ...(s3.regionendpoint ? { regionEndpoint: s3.regionendpoint } : {}),
      forcePathStyle: s3.forcepathstyle,
      ...(s3.accesskey && s3.secretkey ? { accessKey: s3.accesskey, secretKey: s3.secretkey } : {}),
      rootDirectory: s3.rootdirectory.replace(/^\/+|\/+$/g, ''),
      encrypt: s3.encrypt,
      ...(s3.encrypt && s3.keyid ? { keyId: s3.keyid } : {}),
      secure: s3.secure,
      skipVerify: s3.skipverify,
      ...(s3.storageclass !== 'NONE' ? { storageClass: s3.storageclass } : {}),
      chunkSize: s3.chunksize,
      multipartCopyChunkSize: s3.multipartcopychunksize,
      multipartCopyThresholdSize: s3.multipartcopythresholdsize,
    },
  };
}
