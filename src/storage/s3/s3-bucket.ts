import { Readable } from 'node:stream';
import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CopyObjectCommand,
  CreateMultipartUploadCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListMultipartUploadsCommand,
  PutObjectCommand,
  UploadPartCommand,
  UploadPartCopyCommand,
  type S3Client,
  type ServerSideEncryption,
  type StorageClass,
} from '@aws-sdk/client-s3';
import { isInvalidRange, isMissingKey, isNotImplemented } from './s3-errors.ts';
import type { S3DriverOptions } from './s3-options.ts';

export interface ObjectHead {
  size: number;
  modifiedAt: Date;
}

/** Byte range, both ends inclusive, as HTTP Range. */
export interface ByteRange {
  start: number;
  end?: number;
}

/**
 * The object operations the driver and its writer share, on one bucket, with the settings every
 * write carries (encryption, storage class). Keys here are full keys (the root prefix applied).
 */
export class S3Bucket {
  /** Learnt at the first UploadPartCopy: some S3-compatible servers (s3rver) lack it. */
  partCopySupported: boolean | undefined = undefined;
  private readonly writeParams: { ServerSideEncryption?: ServerSideEncryption; SSEKMSKeyId?: string; StorageClass?: StorageClass };

  constructor(
    readonly client: S3Client,
    readonly name: string,
    readonly options: S3DriverOptions,
  ) {
    this.writeParams = {
      ...(options.encrypt ? { ServerSideEncryption: options.keyId ? 'aws:kms' : 'AES256' } : {}),
      ...(options.encrypt && options.keyId ? { SSEKMSKeyId: options.keyId } : {}),
      ...(options.storageClass ? { StorageClass: options.storageClass as StorageClass } : {}),
    };
  }

  /** Size and time of an object, or null when there is none. */
  async head(key: string): Promise<ObjectHead | null> {
    try {
      const res = await this.client.send(new HeadObjectCommand({ Bucket: this.name, Key: key }));
      return { size: res.ContentLength ?? 0, modifiedAt: res.LastModified ?? new Date(0) };
    } catch (err) {
      if (isMissingKey(err)) return null;
      throw err;
    }
  }

  /** Streams an object or a range of it; a range starting at its end is an empty stream. Throws for a missing key. */
  async get(key: string, range?: ByteRange): Promise<Readable> {
    try {
      const res = await this.client.send(
        new GetObjectCommand({ Bucket: this.name, Key: key, ...(range ? { Range: `bytes=${range.start}-${range.end ?? ''}` } : {}) }),
      );
      return res.Body as Readable;
    } catch (err) {
      if (isInvalidRange(err) && range && range.start > 0) return Readable.from([]);
      throw err;
    }
  }

  async getBuffer(key: string, range?: ByteRange): Promise<Buffer> {
    const chunks: Buffer[] = [];
    for await (const chunk of await this.get(key, range)) chunks.push(chunk as Buffer);
    return Buffer.concat(chunks);
  }

  async put(key: string, body: Buffer): Promise<void> {
    await this.client.send(new PutObjectCommand({ Bucket: this.name, Key: key, Body: body, ContentLength: body.length, ...this.writeParams }));
  }

  async copy(source: string, dest: string): Promise<void> {
    await this.client.send(new CopyObjectCommand({ Bucket: this.name, Key: dest, CopySource: this.copySource(source), ...this.writeParams }));
  }

  async deleteObject(key: string): Promise<void> {
    await this.client.send(new DeleteObjectCommand({ Bucket: this.name, Key: key }));
  }

  async startUpload(key: string): Promise<MultipartUpload> {
    const res = await this.client.send(new CreateMultipartUploadCommand({ Bucket: this.name, Key: key, ...this.writeParams }));
    if (!res.UploadId) throw new Error(`CreateMultipartUpload of ${key} returned no upload id`);
    return new MultipartUpload(this, key, res.UploadId);
  }

  /**
   * Aborts the multipart uploads under `prefix` begun before `before` (a writer that died
   * mid-stream leaves one, holding its parts' storage). Null when the server cannot list them.
   */
  async abortStaleUploads(prefix: string, before: Date, limit = 1000): Promise<number | null> {
    let aborted = 0;
    let keyMarker: string | undefined;
    let uploadIdMarker: string | undefined;
    for (let page = 0; page < 100; page++) {
      let res;
      try {
        res = await this.client.send(
          new ListMultipartUploadsCommand({ Bucket: this.name, Prefix: prefix, KeyMarker: keyMarker, UploadIdMarker: uploadIdMarker }),
        );
      } catch (err) {
        if (isNotImplemented(err)) return null;
        throw err;
      }
      for (const upload of res.Uploads ?? []) {
        if (!upload.Key || !upload.UploadId || !upload.Initiated || upload.Initiated >= before) continue;
        await this.client.send(new AbortMultipartUploadCommand({ Bucket: this.name, Key: upload.Key, UploadId: upload.UploadId }));
        if (++aborted >= limit) return aborted;
      }
      if (!res.IsTruncated) break;
      keyMarker = res.NextKeyMarker;
      uploadIdMarker = res.NextUploadIdMarker;
    }
    return aborted;
  }

  copySource(key: string): string {
    return `${this.name}/${key.split('/').map(encodeURIComponent).join('/')}`;
  }
}

/** One multipart upload: parts are numbered in the order they are added. */
export class MultipartUpload {
  private readonly parts: { PartNumber: number; ETag: string }[] = [];

  constructor(
    private readonly bucket: S3Bucket,
    readonly key: string,
    readonly uploadId: string,
  ) {}

  get partCount(): number {
    return this.parts.length;
  }

  async uploadPart(body: Buffer): Promise<void> {
    const PartNumber = this.parts.length + 1;
    const res = await this.bucket.client.send(
      new UploadPartCommand({ Bucket: this.bucket.name, Key: this.key, UploadId: this.uploadId, PartNumber, Body: body, ContentLength: body.length }),
    );
    this.parts.push({ PartNumber, ETag: res.ETag ?? '' });
  }

  /**
   * Adds bytes [0, size) of `source` as server-side copied parts of about `partSize` each (none
   * under the 5 MiB minimum: a short last range joins the one before). Returns false, having
   * added nothing, when the server has no UploadPartCopy.
   */
  async copyParts(source: string, size: number, partSize: number, minPart: number): Promise<boolean> {
    if (this.bucket.partCopySupported === false) return false;
    const ranges: [number, number][] = [];
    for (let start = 0; start < size; start += partSize) ranges.push([start, Math.min(start + partSize, size) - 1]);
    const last = ranges[ranges.length - 1];
    if (ranges.length > 1 && last && last[1] - last[0] + 1 < minPart) {
      ranges.pop();
      ranges[ranges.length - 1]![1] = size - 1;
    }
    for (const [start, end] of ranges) {
      const PartNumber = this.parts.length + 1;
      try {
        const res = await this.bucket.client.send(
          new UploadPartCopyCommand({
            Bucket: this.bucket.name,
            Key: this.key,
            UploadId: this.uploadId,
            PartNumber,
            CopySource: this.bucket.copySource(source),
            CopySourceRange: `bytes=${start}-${end}`,
          }),
        );
        this.bucket.partCopySupported = true;
        this.parts.push({ PartNumber, ETag: res.CopyPartResult?.ETag ?? '' });
      } catch (err) {
        if (this.parts.length === 0 && isNotImplemented(err)) {
          this.bucket.partCopySupported = false;
          return false;
        }
        throw err;
      }
    }
    return true;
  }

  async complete(): Promise<void> {
    await this.bucket.client.send(
      new CompleteMultipartUploadCommand({ Bucket: this.bucket.name, Key: this.key, UploadId: this.uploadId, MultipartUpload: { Parts: this.parts } }),
    );
  }

  /**
   * Best effort: the parts of an upload that is never completed are invisible and cost only
   * storage (a bucket lifecycle rule AbortIncompleteMultipartUpload reclaims it). s3rver has no
   * AbortMultipartUpload (405), which is no failure of the request that gave up.
   */
  async abort(): Promise<void> {
    try {
      await this.bucket.client.send(new AbortMultipartUploadCommand({ Bucket: this.bucket.name, Key: this.key, UploadId: this.uploadId }));
    } catch {
      // see above
    }
  }
}
