import type { Readable } from 'node:stream';
import { DeleteObjectsCommand, GetObjectCommand, HeadBucketCommand, ListObjectsV2Command, type S3Client } from '@aws-sdk/client-s3';
import { PathNotFoundError, type FileInfo, type FileWriter, type StorageDriver } from '../driver.ts';
import { KeyedMutex } from '../keyed-mutex.ts';
import { S3Bucket } from './s3-bucket.ts';
import { createS3Client } from './s3-client.ts';
import { isMissingKey } from './s3-errors.ts';
import { MAX_PART_SIZE, MIN_PART_SIZE } from './s3-options.ts';
import type { S3DriverOptions } from './s3-options.ts';
import { PartSink } from './s3-parts.ts';
import { S3Writer } from './s3-writer.ts';

/** The most keys one ListObjectsV2 returns and one DeleteObjects takes. */
const PAGE = 1000;

/**
 * Keeps every file as an object `<rootdirectory>/<path>`; directories are key prefixes, so one
 * exists exactly while an object below it does (a file and its directories appear in one step).
 * Objects are replaced atomically by S3 (PutObject, CopyObject, CompleteMultipartUpload), and S3
 * reads, lists and HEADs are strongly consistent, which is what the stores above rely on.
 *
 * Known limits: a move is a copy then a delete (a crash between leaves both, which the stores
 * tolerate: they publish by content digest); two replicas deleting one path may both succeed
 * (deletes are exclusive within a process only); an upload appended by two replicas at once is
 * not locked (neither is it on a shared filesystem).
 */
export class S3Driver implements StorageDriver {
  readonly name = 's3';
  readonly shared = true;
  readonly client: S3Client;
  readonly bucket: string;
  private readonly objects: S3Bucket;
  private readonly prefix: string;
  private readonly deletes = new KeyedMutex();

  constructor(readonly options: S3DriverOptions) {
    this.client = createS3Client(options);
    this.bucket = options.bucket;
    this.objects = new S3Bucket(this.client, options.bucket, options);
    const root = options.rootDirectory.replace(/^\/+|\/+$/g, '');
    this.prefix = root ? `${root}/` : '';
  }

  /** Multipart uploads a dead writer left, begun before `before`, aborted (null: the server cannot list them). */
  purgeIncompleteWrites(before: Date): Promise<number | null> {
    return this.objects.abortStaleUploads(this.prefix, before);
  }

  /** A presigned GET of the object, valid 20 minutes (Distribution's expiry). */
  async redirectUrl(p: string): Promise<string> {
    const { getSignedUrl } = await import('@aws-sdk/s3-request-presigner');
    return getSignedUrl(this.client, new GetObjectCommand({ Bucket: this.bucket, Key: this.key(p) }), { expiresIn: 20 * 60 });
  }

  /** Throws unless the bucket is there and ours to use (HeadBucket): called once at start. */
  async check(): Promise<void> {
    await this.client.send(new HeadBucketCommand({ Bucket: this.bucket }));
  }

  async getContent(p: string): Promise<Buffer> {
    return this.translate(p, () => this.objects.getBuffer(this.key(p)));
  }

  async putContent(p: string, content: Buffer | string): Promise<void> {
    await this.objects.put(this.key(p), typeof content === 'string' ? Buffer.from(content) : content);
  }

  async reader(p: string, range?: { start: number; end?: number }): Promise<Readable> {
    return this.translate(p, () => this.objects.get(this.key(p), range));
  }

  async writer(p: string, append: boolean): Promise<FileWriter> {
    const key = this.key(p);
    const head = await this.objects.head(key);
    const existing = { size: head?.size ?? 0, exists: head !== null };
    return new S3Writer(this.objects, key, append, existing, this.options.chunkSize, this.options.multipartCopyChunkSize);
  }

  async stat(p: string): Promise<FileInfo> {
    const head = await this.objects.head(this.key(p));
    if (head) return { path: p, size: head.size, modifiedAt: head.modifiedAt, isDirectory: false };
    const res = await this.client.send(new ListObjectsV2Command({ Bucket: this.bucket, Prefix: this.dirPrefix(p), MaxKeys: 1 }));
    const first = res.Contents?.[0];
    if (!first) throw new PathNotFoundError(p);
    return { path: p, size: 0, modifiedAt: first.LastModified ?? new Date(0), isDirectory: true };
  }

  async list(p: string): Promise<string[]> {
    const prefix = this.dirPrefix(p);
    const names = new Set<string>();
    let token: string | undefined;
    do {
      const res = await this.client.send(
        new ListObjectsV2Command({ Bucket: this.bucket, Prefix: prefix, Delimiter: '/', MaxKeys: PAGE, ContinuationToken: token }),
      );
      for (const dir of res.CommonPrefixes ?? []) if (dir.Prefix) names.add(dir.Prefix.slice(prefix.length, -1));
      for (const obj of res.Contents ?? []) if (obj.Key) names.add(obj.Key.slice(prefix.length));
      token = res.IsTruncated ? res.NextContinuationToken : undefined;
    } while (token);
    names.delete('');
    if (names.size === 0) throw new PathNotFoundError(p);
    return [...names];
  }

  /** CopyObject (a multipart copy above `multipartcopythresholdsize`), then the source is deleted. */
  async move(source: string, dest: string): Promise<void> {
    const from = this.key(source);
    const to = this.key(dest);
    const head = await this.objects.head(from);
    if (!head) throw new PathNotFoundError(source);
    await this.translate(source, () => this.copy(from, to, head.size));
    await this.objects.deleteObject(from);
  }

  /** Deletes `p` and everything below it; exclusive per path within this process. */
  delete(p: string): Promise<void> {
    const key = this.key(p);
    if (key === '' || key === this.prefix) throw new Error('refusing to delete the storage root');
    return this.deletes.run(p, async () => {
      let deleted = 0;
      if (await this.objects.head(key)) {
        await this.objects.deleteObject(key);
        deleted++;
      }
      const prefix = this.dirPrefix(p);
      let token: string | undefined;
      do {
        const res = await this.client.send(new ListObjectsV2Command({ Bucket: this.bucket, Prefix: prefix, MaxKeys: PAGE, ContinuationToken: token }));
        const keys = (res.Contents ?? []).flatMap((o) => (o.Key ? [{ Key: o.Key }] : []));
        if (keys.length > 0) {
          const out = await this.client.send(new DeleteObjectsCommand({ Bucket: this.bucket, Delete: { Objects: keys, Quiet: true } }));
          const failed = out.Errors?.[0];
          if (failed) throw new Error(`S3 refused to delete ${failed.Key}: ${failed.Code} ${failed.Message}`);
          deleted += keys.length;
        }
        token = res.IsTruncated ? res.NextContinuationToken : undefined;
      } while (token);
      if (deleted === 0) throw new PathNotFoundError(p);
    });
  }

  private async copy(from: string, to: string, size: number): Promise<void> {
    const { multipartCopyThresholdSize, multipartCopyChunkSize, chunkSize } = this.options;
    const plainCopy = size <= MAX_PART_SIZE;
    if (size <= multipartCopyThresholdSize || (plainCopy && this.objects.partCopySupported === false)) {
      await this.objects.copy(from, to);
      return;
    }
    const sink = new PartSink(this.objects, to, chunkSize);
    try {
      const upload = await sink.multipart();
      if (!(await upload.copyParts(from, size, multipartCopyChunkSize, MIN_PART_SIZE))) {
        // No UploadPartCopy (s3rver): one CopyObject when S3's 5 GiB limit allows, else streamed through us.
        if (plainCopy) {
          await sink.abort();
          await this.objects.copy(from, to);
          return;
        }
        for await (const chunk of await this.objects.get(from)) await sink.add(chunk as Buffer);
      }
      await sink.finish();
    } catch (err) {
      await sink.abort();
      throw err;
    }
  }

  private key(p: string): string {
    const clean = p.replace(/^\/+|\/+$/g, '');
    // Defence in depth: callers only pass paths built from validated names.
    if (clean.split('/').some((part) => part === '..' || part === '.')) throw new Error(`path escapes the storage root: ${p}`);
    return this.prefix + clean;
  }

  /** The prefix of everything below `p` as a directory. */
  private dirPrefix(p: string): string {
    const key = this.key(p);
    return key === '' ? '' : key.endsWith('/') ? key : `${key}/`;
  }

  private async translate<T>(p: string, run: () => Promise<T>): Promise<T> {
    try {
      return await run();
    } catch (err) {
      if (isMissingKey(err)) throw new PathNotFoundError(p);
      throw err;
    }
  }
}
