import type { Readable, Writable } from 'node:stream';

/**
 * The dumb storage layer, after Distribution's StorageDriver: paths are POSIX-style and relative
 * to the driver's root ("blobs/sha256/ab/..."). All registry semantics live above it, once.
 * Paths reaching a driver are built only by `layout.ts` from validated values.
 */
export interface StorageDriver {
  readonly name: string;
  /**
   * Other processes may use the same storage at once (S3 behind a load balancer): this
   * process's locks do not cover it, so what it publishes is checked where it lands.
   */
  readonly shared?: boolean;
  /** Whole content of a small file. Throws PathNotFoundError. */
  getContent(path: string): Promise<Buffer>;
  /** Atomically replaces a small file: readers see the old or the new content, never a mix. */
  putContent(path: string, content: Buffer | string, options?: WriteOptions): Promise<void>;
  /** Streams bytes [start, end] (end inclusive) of a file. Throws PathNotFoundError. */
  reader(path: string, range?: { start: number; end?: number }): Promise<Readable>;
  /** Opens a file for writing, appending to what is there when `append` is set. */
  writer(path: string, append: boolean, options?: WriteOptions): Promise<FileWriter>;
  /** Throws PathNotFoundError. */
  stat(path: string): Promise<FileInfo>;
  /** Names (not paths) of the direct children of a directory, unsorted. Throws PathNotFoundError. */
  list(path: string): Promise<string[]>;
  /** Atomically moves a file into place, replacing what is at `dest`; durable, even from scratch. */
  move(source: string, dest: string): Promise<void>;
  /** Deletes a file or a directory tree. Throws PathNotFoundError. */
  delete(path: string, options?: WriteOptions): Promise<void>;
  /**
   * A URL a client can fetch the file from directly, when the driver can hand one out (S3: a
   * presigned GET, as Distribution's `RedirectURL`); absent or null: serve it through us.
   */
  redirectUrl?(path: string): Promise<string | null>;
  /**
   * Drops what writers that died left outside the tree, begun before `before` (S3: multipart
   * uploads never completed); the count, or null when the storage cannot tell. Absent: nothing to do.
   */
  purgeIncompleteWrites?(before: Date): Promise<number | null>;
  /** Throws unless the storage can be used now (S3: HeadBucket); absent: always usable. */
  check?(): Promise<void>;
}

/**
 * `scratch`: the write need only outlive this process, not a power loss (an upload session's own
 * files: after a power loss the client's next request finds the session whole, gone, or refused,
 * and starts again). A driver that syncs skips it; what is moved out of scratch into the tree is
 * synced by `move`. Without it, a write is on disk before the call returns.
 */
export interface WriteOptions {
  scratch?: boolean;
}

export interface FileInfo {
  path: string;
  size: number;
  modifiedAt: Date;
  isDirectory: boolean;
}

/**
 * A file being written. Bytes go through `stream`; nothing is durable until `commit`.
 * `cancel` drops what this writer added (an append is rolled back to its starting size).
 */
export interface FileWriter {
  readonly stream: Writable;
  /** Size of the file before this writer added anything. */
  readonly startSize: number;
  /** Bytes this writer has accepted so far. */
  readonly written: number;
  commit(): Promise<void>;
  cancel(): Promise<void>;
}

export class PathNotFoundError extends Error {
  readonly path: string;
  constructor(path: string) {
    super(`path not found: ${path}`);
    this.name = 'PathNotFoundError';
    this.path = path;
  }
}

export function isNotFound(err: unknown): err is PathNotFoundError {
  return err instanceof PathNotFoundError;
}
