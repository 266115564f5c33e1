import type { MultipartUpload, S3Bucket } from './s3-bucket.ts';
import { MIN_PART_SIZE } from './s3-options.ts';

/** Below this, bytes wait in a small buffer: most files written are far smaller than a part. */
const SMALL_BUFFER = 1024 * 1024;

/**
 * Turns a stream of bytes into one object: parts of exactly `partSize` bytes are uploaded as
 * they fill (the multipart upload is created with the first one), so at most one part is held in
 * memory; what is left at `finish` is the last part, or the whole object in one PutObject when it
 * never filled a part. Not safe for concurrent `add` calls (a Writable serialises them).
 */
export class PartSink {
  private buffer: Buffer | null = null;
  private filled = 0;
  private upload: MultipartUpload | null = null;
  /** Bytes uploaded as parts (not counting server-side copies). */
  uploaded = 0;

  constructor(
    private readonly bucket: S3Bucket,
    readonly key: string,
    private readonly partSize: number,
  ) {}

  /** Bytes held in memory, not yet uploaded. Never more than `partSize`. */
  get buffered(): number {
    return this.filled;
  }

  /** The multipart upload, created now if need be (to add server-side copied parts first). */
  async multipart(): Promise<MultipartUpload> {
    this.upload ??= await this.bucket.startUpload(this.key);
    return this.upload;
  }

  async add(chunk: Buffer): Promise<void> {
    let offset = 0;
    while (offset < chunk.length) {
      this.reserve(chunk.length - offset);
      const buffer = this.buffer!;
      const n = Math.min(chunk.length - offset, buffer.length - this.filled);
      chunk.copy(buffer, this.filled, offset, offset + n);
      this.filled += n;
      offset += n;
      if (this.filled === this.partSize) await this.uploadBuffered();
    }
  }

  /** Makes the object whole and visible (atomically, as S3 replaces an object). */
  async finish(): Promise<void> {
    const rest = this.buffer ? this.buffer.subarray(0, this.filled) : Buffer.alloc(0);
    if (!this.upload) {
      await this.bucket.put(this.key, rest);
    } else {
      if (this.filled > 0 || this.upload.partCount === 0) await this.uploadBuffered();
      await this.upload.complete();
    }
    this.release();
  }

  /** Drops everything; the object is untouched. */
  async abort(): Promise<void> {
    this.release();
    await this.upload?.abort();
    this.upload = null;
  }

  private async uploadBuffered(): Promise<void> {
    const upload = await this.multipart();
    const body = this.buffer ? this.buffer.subarray(0, this.filled) : Buffer.alloc(0);
    await upload.uploadPart(body);
    this.uploaded += body.length;
    this.filled = 0;
  }

  /** A small buffer first; one of a whole part once the bytes outgrow it. */
  private reserve(incoming: number): void {
    if (this.buffer && (this.buffer.length === this.partSize || this.filled + incoming <= this.buffer.length)) return;
    if (!this.buffer && incoming <= SMALL_BUFFER) {
      this.buffer = Buffer.allocUnsafe(Math.min(SMALL_BUFFER, this.partSize));
      return;
    }
    const grown = Buffer.allocUnsafe(this.partSize);
    this.buffer?.copy(grown, 0, 0, this.filled);
    this.buffer = grown;
  }

  private release(): void {
    this.buffer = null;
    this.filled = 0;
  }
}

/**
 * Adds bytes [0, size) of the object `source` to `sink`: as server-side copied parts when it
 * is large enough to be a part and the server has UploadPartCopy, else streamed through this
 * process (GetObject into the sink's parts; memory stays at one part).
 */
export async function addObjectPrefix(bucket: S3Bucket, sink: PartSink, source: string, size: number, copyPartSize: number): Promise<void> {
  if (size === 0) return;
  if (size >= MIN_PART_SIZE && bucket.partCopySupported !== false) {
    const upload = await sink.multipart();
    if (await upload.copyParts(source, size, copyPartSize, MIN_PART_SIZE)) return;
  }
  for await (const chunk of await bucket.get(source, { start: 0, end: size - 1 })) await sink.add(chunk as Buffer);
}
