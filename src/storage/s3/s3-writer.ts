import { Writable } from 'node:stream';
import { finished } from 'node:stream/promises';
import type { FileWriter } from '../driver.ts';
import type { S3Bucket } from './s3-bucket.ts';
import { PartSink, addObjectPrefix } from './s3-parts.ts';

/**
 * The S3 driver's FileWriter. S3 cannot append, so an append writes the object again: a new
 * multipart upload whose first parts are the existing object, copied server-side with
 * UploadPartCopy when the server has it (S3, MinIO), else streamed through this process (s3rver;
 * objects under 5 MiB, which are too small to be a part, are read into the part buffer). New bytes
 * follow in parts of `chunkSize`, and the upload is completed when the stream ends, so that:
 *
 * - between writers the object itself is the only state: any replica continues an upload with a
 *   HEAD, and nothing (upload ids, part lists, tails) has to be kept beside it;
 * - what a writer accepted is readable as soon as its stream has finished, before `commit`: the
 *   upload store re-reads an upload's data to check its digest when the running hash is gone
 *   (another replica took the upload), and does so between the last write and `commit`.
 *
 * The cost: each append copies what is already there, server-side on S3 (quick, no transfer
 * through us) but through this process on servers without UploadPartCopy; an upload sent in n
 * chunks moves O(n * size) bytes there. Clients mostly send one chunk, or a few large ones.
 * `cancel` after the stream finished rewrites the object's first `startSize` bytes the same way.
 * Memory: one part (`chunkSize`) per writer.
 */
export class S3Writer implements FileWriter {
  readonly stream: Writable;
  readonly startSize: number;
  written = 0;
  private sink: PartSink | null = null;
  /** The stream finished and the object now holds what this writer added. */
  private completed = false;
  private cancelled = false;
  /** The write or final in flight, so cancel waits for it before cleaning up. */
  private current: Promise<void> = Promise.resolve();

  constructor(
    private readonly bucket: S3Bucket,
    private readonly key: string,
    append: boolean,
    /** Size of the object there before (0 for none) and whether there was one. */
    private readonly existing: { size: number; exists: boolean },
    private readonly chunkSize: number,
    private readonly copyPartSize: number,
  ) {
    this.startSize = append ? existing.size : 0;
    this.stream = new Writable({
      highWaterMark: 256 * 1024,
      write: (chunk: Buffer, _encoding, cb) => {
        this.current = this.accept(chunk);
        this.current.then(() => cb(), cb);
      },
      final: (cb) => {
        this.current = this.complete();
        this.current.then(() => cb(), cb);
      },
    });
  }

  /** Bytes held in memory, not yet sent to S3. */
  get buffered(): number {
    return this.sink?.buffered ?? 0;
  }

  async commit(): Promise<void> {
    if (this.cancelled) throw new Error(`writer of ${this.key} was cancelled`);
    if (!this.stream.writableFinished) {
      if (!this.stream.writableEnded) this.stream.end();
      await finished(this.stream);
    }
  }

  async cancel(): Promise<void> {
    this.cancelled = true;
    if (!this.stream.writableFinished) this.stream.destroy();
    await this.current.catch(() => undefined);
    if (!this.completed) {
      await this.sink?.abort();
      this.sink = null;
      return;
    }
    // The object has this writer's bytes already: back to its first startSize bytes.
    if (this.startSize === 0) {
      if (this.existing.exists) await this.bucket.put(this.key, Buffer.alloc(0));
      else await this.bucket.deleteObject(this.key);
      return;
    }
    const sink = new PartSink(this.bucket, this.key, this.chunkSize);
    try {
      await addObjectPrefix(this.bucket, sink, this.key, this.startSize, this.copyPartSize);
      await sink.finish();
    } catch (err) {
      await sink.abort();
      throw err;
    }
  }

  private async accept(chunk: Buffer): Promise<void> {
    const sink = await this.open();
    await sink.add(chunk);
    this.written += chunk.length;
  }

  private async complete(): Promise<void> {
    // An append of nothing leaves the object as it is.
    if (this.written === 0 && this.startSize > 0) return;
    await (await this.open()).finish();
    this.sink = null;
    this.completed = true;
  }

  /** The sink for this writer's object, holding the existing bytes first when appending. */
  private async open(): Promise<PartSink> {
    if (this.sink) return this.sink;
    const sink = new PartSink(this.bucket, this.key, this.chunkSize);
    try {
      await addObjectPrefix(this.bucket, sink, this.key, this.startSize, this.copyPartSize);
    } catch (err) {
      await sink.abort();
      throw err;
    }
    this.sink = sink;
    return sink;
  }
}
