import { createHash, randomUUID } from 'node:crypto';
import { createRequire } from 'node:module';
import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import type { Readable } from 'node:stream';

/**
 * s3rver 3.7.1's filesystem store falls short of S3 in ways that would make our driver's tests
 * test s3rver instead, so the test server gets these corrections (of s3rver, not of our code):
 *
 * - PutObject (and so CompleteMultipartUpload) writes the object file in place and answers before
 *   the bytes are written; CopyObject copies in place. S3 replaces an object atomically and reads
 *   after writes see it whole. Here: written to a temp file, then renamed into place.
 * - ListObjects with a delimiter misses the common prefixes whose objects are two or more levels
 *   down, and walks with readdirSync/statSync that fail (500) on entries removed meanwhile.
 *   Its continuation tokens use DES, which Node 20's OpenSSL 3 refuses (500), so listings here are
 *   never truncated: the driver's pagination is not exercised against s3rver.
 * - Metadata files are rewritten in place as well: made atomic the same way.
 * - GetObject sizes the object and opens it in two steps: a replace between them mixes the two.
 * - DeleteObject removes emptied directories and fails (500) when a concurrent write fills one.
 *
 * And, where a test asks for them (`addMultipartUploadListing`), the two multipart calls it
 * lacks that the upload purger needs: ListMultipartUploads (501) and AbortMultipartUpload (405).
 */
const require = createRequire(import.meta.url);

interface Store {
  rootDirectory: string;
  getResourcePath(bucket: string, key: string | undefined, resource: string): string;
  getBucketPath(bucket: string): string;
  getMetadata(bucket: string, key: string): Promise<Record<string, string>>;
  putMetadata(bucket: string, key: string, metadata: Record<string, string>, md5?: string): Promise<void>;
  putObject(object: { bucket: string; key: string; content: Buffer | Readable; metadata: Record<string, string> }): Promise<{ size: number; md5: string }>;
  copyObject(srcBucket: string, srcKey: string, destBucket: string, destKey: string, replacement?: Record<string, string>): Promise<unknown>;
  getObject(bucket: string, key: string, options?: { start?: number; end?: number }): Promise<unknown>;
  listObjects(bucket: string, options: { delimiter?: string; prefix?: string; startAfter?: string }): Promise<unknown>;
  deleteObject(bucket: string, key: string): Promise<void>;
}

const OBJECT_SUFFIX = '._S3rver_object';
/** s3rver's S3Object.ALLOWED_METADATA. */
const METADATA_KEPT = new Set(['cache-control', 'content-disposition', 'content-encoding', 'content-language', 'content-type', 'expires', 'x-amz-storage-class', 'x-amz-website-redirect-location']);

export function fixS3rverStore(store: Store): void {
  const S3Object = require('s3rver/lib/models/object.js') as new (bucket: string, key: string, content: Readable | null, metadata: Record<string, string>) => unknown;
  const tmpDir = path.join(store.rootDirectory, '.dockyard-tmp');

  /** Renames `tmp` to `target`, making (again) the directories a concurrent delete removes. */
  async function place(tmp: string, target: string): Promise<void> {
    for (let attempt = 0; ; attempt++) {
      await fs.mkdir(path.dirname(target), { recursive: true });
      try {
        await fs.rename(tmp, target);
        return;
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'ENOENT' || attempt > 20) throw err;
      }
    }
  }

  // Metadata files are rewritten in place too: a reader parsing one half-written fails (500).
  store.putMetadata = async (bucket, key, metadata, md5) => {
    const json: Record<string, string> = {};
    for (const [name, value] of Object.entries(metadata)) {
      if (METADATA_KEPT.has(name) || name.startsWith('x-amz-meta-')) json[name] = value;
    }
    await fs.mkdir(tmpDir, { recursive: true });
    if (md5) {
      const tmpMd5 = path.join(tmpDir, randomUUID());
      await fs.writeFile(tmpMd5, md5);
      await place(tmpMd5, store.getResourcePath(bucket, key, 'object.md5'));
    }
    const tmp = path.join(tmpDir, randomUUID());
    await fs.writeFile(tmp, JSON.stringify(json, null, 2));
    await place(tmp, store.getResourcePath(bucket, key, 'metadata.json'));
  };

  store.putObject = async (object) => {
    await fs.mkdir(tmpDir, { recursive: true });
    const tmp = path.join(tmpDir, randomUUID());
    const hash = createHash('md5');
    let size = 0;
    const handle = await fs.open(tmp, 'w');
    try {
      const source: AsyncIterable<Buffer> | Buffer[] = Buffer.isBuffer(object.content) ? [object.content] : object.content;
      for await (const chunk of source) {
        hash.update(chunk);
        size += chunk.length;
        await handle.write(chunk);
      }
    } finally {
      await handle.close();
    }
    const md5 = hash.digest('hex');
    await place(tmp, store.getResourcePath(object.bucket, object.key, 'object'));
    await store.putMetadata(object.bucket, object.key, object.metadata, md5);
    return { size, md5 };
  };

  const copyObject = store.copyObject.bind(store);
  store.copyObject = async (srcBucket, srcKey, destBucket, destKey, replacement) => {
    const src = store.getResourcePath(srcBucket, srcKey, 'object');
    const dest = store.getResourcePath(destBucket, destKey, 'object');
    if (src !== dest) {
      await fs.mkdir(tmpDir, { recursive: true });
      const tmp = path.join(tmpDir, randomUUID());
      await fs.copyFile(src, tmp);
      await place(tmp, dest);
    }
    // The rest (metadata) as s3rver does it: its object copy now finds the file in place already.
    return copyObject(destBucket, destKey, destBucket, destKey, replacement ?? (await store.getMetadata(srcBucket, srcKey)));
  };

  // s3rver sizes the object (stat) and opens it separately: a replace between the two mixes them.
  store.getObject = async (bucket, key, options) => {
    let handle: fs.FileHandle;
    try {
      handle = await fs.open(store.getResourcePath(bucket, key, 'object'), 'r');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
      throw err;
    }
    try {
      const size = (await handle.stat()).size;
      const metadata = { ...(await store.getMetadata(bucket, key)), 'content-length': String(size) };
      const lastByte = Math.max(0, size - 1);
      const range = { start: options?.start || 0, end: Math.min(options?.end || Infinity, lastByte) };
      const ranged = options !== undefined && (options.start !== undefined || Boolean(options.end));
      let content: Readable | null = null;
      if (range.start >= 0 && range.end >= range.start) content = handle.createReadStream({ ...range, autoClose: true });
      else await handle.close();
      const object = new S3Object(bucket, key, content, metadata) as { range?: unknown };
      if (ranged) object.range = range;
      return object;
    } catch (err) {
      await handle.close().catch(() => undefined);
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
      throw err;
    }
  };

  store.listObjects = async (bucket, options) => {
    const { delimiter = '', prefix = '', startAfter = '' } = options;
    const bucketPath = store.getBucketPath(bucket);
    const keys: string[] = [];
    // Walk only the directories the prefix can be in.
    const start = prefix.includes('/') ? prefix.slice(0, prefix.lastIndexOf('/')) : '';
    await walk(path.join(bucketPath, start), start, keys);
    const objects: unknown[] = [];
    const commonPrefixes = new Set<string>();
    for (const key of keys.sort()) {
      if (!key.startsWith(prefix) || key <= startAfter) continue;
      const idx = delimiter ? key.slice(prefix.length).indexOf(delimiter) : -1;
      if (idx !== -1) {
        commonPrefixes.add(key.slice(0, prefix.length + idx + delimiter.length));
        continue;
      }
      const metadata = await store.getMetadata(bucket, key).catch(() => undefined);
      if (metadata) objects.push(new S3Object(bucket, key, null, metadata));
    }
    return { objects, commonPrefixes: [...commonPrefixes].sort(), isTruncated: false };
  };

  store.deleteObject = async (bucket, key) => {
    for (const resource of ['object', 'object.md5', 'metadata.json']) {
      await fs.unlink(store.getResourcePath(bucket, key, resource)).catch(() => undefined);
    }
    const parts = key.split('/').slice(0, -1);
    while (parts.length > 0) {
      try {
        await fs.rmdir(path.join(store.getBucketPath(bucket), ...parts));
      } catch {
        break; // not empty (or gone already): it stays
      }
      parts.pop();
    }
  };
}

/** The one piece of Koa that s3rver (a Koa app) shows: its middleware list, composed at `run()`. */
interface KoaApp {
  middleware: ((ctx: KoaContext, next: () => Promise<void>) => Promise<void>)[];
}
interface KoaContext {
  method: string;
  path: string;
  query: Record<string, string | string[] | undefined>;
  status: number;
  type: string;
  body: unknown;
}

/**
 * ListMultipartUploads (`GET /<bucket>?uploads&prefix=`) and AbortMultipartUpload (`DELETE
 * /<bucket>/<key>?uploadId=`) over s3rver's own upload directories (`<bucket>/._S3rver_uploads/<id>`,
 * holding the key, the metadata and one file per part), answered ahead of s3rver's router.
 * Initiated is when the upload's `key` file was written. Never truncated (at most 1000 here).
 */
export function addMultipartUploadListing(app: KoaApp, store: Store): void {
  const uploadsDir = (bucket: string) => store.getResourcePath(bucket, undefined, 'uploads');
  app.middleware.unshift(async (ctx, next) => {
    const [, bucket = '', key = ''] = /^\/([^/]+)\/?(.*)$/.exec(ctx.path) ?? [];
    if (ctx.method === 'GET' && bucket && !key && 'uploads' in ctx.query) {
      const prefix = typeof ctx.query.prefix === 'string' ? ctx.query.prefix : '';
      const uploads: string[] = [];
      for (const id of await fs.readdir(uploadsDir(bucket)).catch(() => [])) {
        const keyFile = path.join(uploadsDir(bucket), id, 'key');
        const [name, info] = await Promise.all([fs.readFile(keyFile, 'utf8'), fs.stat(keyFile)]).catch(() => [null, null] as const);
        if (name === null || !name.startsWith(prefix)) continue;
        uploads.push(`<Upload><Key>${xml(name)}</Key><UploadId>${xml(id)}</UploadId><Initiated>${info.mtime.toISOString()}</Initiated><StorageClass>STANDARD</StorageClass></Upload>`);
      }
      ctx.type = 'application/xml';
      ctx.body = `<?xml version="1.0" encoding="UTF-8"?>\n<ListMultipartUploadsResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Bucket>${xml(bucket)}</Bucket><KeyMarker></KeyMarker><UploadIdMarker></UploadIdMarker><Prefix>${xml(prefix)}</Prefix><MaxUploads>1000</MaxUploads><IsTruncated>false</IsTruncated>${uploads.join('')}</ListMultipartUploadsResult>`;
      return;
    }
    const uploadId = ctx.query.uploadId;
    if (ctx.method === 'DELETE' && bucket && key && typeof uploadId === 'string' && /^[0-9a-f]+$/.test(uploadId)) {
      await fs.rm(path.join(uploadsDir(bucket), uploadId), { recursive: true, force: true });
      ctx.status = 204;
      return;
    }
    await next();
  });
}

const xml = (text: string) => text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

async function walk(dir: string, keyDir: string, keys: string[]): Promise<void> {
  let entries;
  try {
    entries = await fs.readdir(dir, { withFileTypes: true });
  } catch {
    return; // removed meanwhile, or never there
  }
  for (const entry of entries) {
    if (entry.isDirectory()) {
      await walk(path.join(dir, entry.name), keyDir ? `${keyDir}/${entry.name}` : entry.name, keys);
    } else if (entry.name.endsWith(OBJECT_SUFFIX)) {
      const name = entry.name.slice(0, -OBJECT_SUFFIX.length);
      keys.push(keyDir ? `${keyDir}/${name}` : name);
    }
  }
}
