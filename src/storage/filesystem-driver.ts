import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import type { Readable } from 'node:stream';
import { failpoint } from '../failpoint.ts';
import { PathNotFoundError, type FileInfo, type FileWriter, type StorageDriver, type WriteOptions } from './driver.ts';
import { FilesystemWriter } from './filesystem-writer.ts';
import { isEnoent, Publisher, syncChangedDir } from './filesystem-publish.ts';
import * as calls from './fs-calls.ts';
import { Failpoints } from './failpoints.ts';
import { SWEEP_LIMIT, sweepTempDir, tempEntryName } from './tmp-sweep.ts';

export interface FilesystemDriverOptions {
  /**
   * fsync every file before it is renamed into place and every directory that gained or lost an
   * entry after, so a change is on disk before the call returns (`storage.filesystem.fsync`);
   * scratch writes (WriteOptions) are not synced until they are moved into place. Default true.
   */
  fsync?: boolean;
}

/**
 * Temp files, staged subtrees and deleted trees waiting to be removed live here, under the root
 * (so a rename from it into place is atomic: one filesystem) and outside anything a store lists.
 */
export const TEMP_DIR = '_tmp';
/** Temp files of earlier versions, written beside their target: `<name>.<uuid>.tmp`. */
const LEGACY_TEMP = /\.[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\.tmp$/;

/**
 * Stores everything under one root directory. Every file becomes visible in one atomic step: it
 * is written in TEMP_DIR and renamed into place; when its directory does not exist yet, the
 * missing subtree is built in TEMP_DIR around it and its topmost directory renamed into place,
 * so no reader ever lists a directory without its file (Publisher, filesystem-publish.ts).
 * Deletes are a rename into TEMP_DIR too.
 */
export class FilesystemDriver implements StorageDriver {
  readonly name = 'filesystem';
  readonly root: string;
  readonly fsync: boolean;
  private readonly tempRoot: string;
  private tempReady: Promise<void> | null = null;
  /** Sweeps run one after another, so each one's count is what it removed. */
  private sweeps: Promise<unknown> = Promise.resolve();
  private swept = false;
  private readonly publisher: Publisher;

  constructor(rootDirectory: string, options: FilesystemDriverOptions = {}) {
    this.root = path.resolve(rootDirectory);
    this.tempRoot = path.join(this.root, TEMP_DIR);
    this.fsync = options.fsync ?? true;
    this.publisher = new Publisher(this.root, (kind) => this.tempPath(kind));
  }

  private full(p: string): string {
    const resolved = path.resolve(this.root, `./${p}`);
    // Defence in depth: callers only pass paths built from validated names.
    if (resolved !== this.root && !resolved.startsWith(this.root + path.sep)) {
      throw new Error(`path escapes the storage root: ${p}`);
    }
    if (resolved === this.tempRoot || resolved.startsWith(this.tempRoot + path.sep)) {
      throw new Error(`path is inside the driver's temp directory: ${p}`);
    }
    return resolved;
  }

  async getContent(p: string): Promise<Buffer> {
    await calls.readTurn();
    try {
      return calls.now.readFile(this.full(p));
    } catch (err) {
      throw translate(err, p);
    }
  }

  async putContent(p: string, content: Buffer | string, options?: WriteOptions): Promise<void> {
    const target = this.full(p);
    const sync = this.syncs(options);
    await this.ensureTemp();
    const missing = this.publisher.topmostMissing(path.dirname(target));
    if (missing !== null && (await this.publisher.createInStage(target, missing, content, sync))) return;
    const tmp = await this.tempPath('file');
    let durable: Promise<void> = Promise.resolve();
    try {
      const fd = calls.now.createFile(tmp, content);
      // The file's fsync runs beside the staging of its directories (and their fsyncs): on a
      // journaling filesystem concurrent fsyncs share one commit. Both end before the rename.
      durable = (sync ? calls.fsync(fd) : Promise.resolve()).finally(() => calls.now.close(fd));
      durable.catch(() => undefined); // awaited by publish; an early failure there must not leave it unhandled
      failpoint(Failpoints.fileWritten);
      // A directory found missing above is not trusted: createInStage lost a race for it.
      await this.publisher.publish(tmp, target, sync, durable, missing === null ? null : undefined);
    } catch (err) {
      await durable.catch(() => undefined); // closed before it is removed
      await fs.rm(tmp, { force: true }).catch(() => undefined); // the original error matters more
      throw err;
    }
  }

  async reader(p: string, range?: { start: number; end?: number }): Promise<Readable> {
    const file = this.full(p);
    // Open first so that a missing file is an error here rather than later on the stream.
    let handle: fs.FileHandle;
    try {
      handle = await fs.open(file, 'r');
    } catch (err) {
      throw translate(err, p);
    }
    return handle.createReadStream({ start: range?.start, end: range?.end, highWaterMark: 1024 * 1024 });
  }

  async writer(p: string, append: boolean, options?: WriteOptions): Promise<FileWriter> {
    const file = this.full(p);
    const flags = append ? 'a' : 'w';
    let handle: fs.FileHandle;
    try {
      handle = await fs.open(file, flags);
    } catch (err) {
      if (!isEnoent(err)) throw err;
      // A writer's file is visible while it grows (an upload's data), so its directory may be too.
      await fs.mkdir(path.dirname(file), { recursive: true });
      handle = await fs.open(file, flags);
    }
    let startSize = 0;
    try {
      if (append) startSize = (await handle.stat()).size;
    } catch (err) {
      await handle.close().catch(() => undefined); // the stat's error matters more
      throw err;
    }
    // An empty file may be new: its directory is synced too then (for an old one, one fsync more).
    const sync = this.syncs(options) ? (startSize === 0 ? path.dirname(file) : true) : false;
    return new FilesystemWriter(handle, startSize, sync);
  }

  async stat(p: string): Promise<FileInfo> {
    await calls.readTurn();
    try {
      const st = calls.now.stat(this.full(p));
      if (st === undefined) throw new PathNotFoundError(p);
      return { path: p, size: st.size, modifiedAt: st.mtime, isDirectory: st.isDirectory() };
    } catch (err) {
      throw translate(err, p);
    }
  }

  async list(p: string): Promise<string[]> {
    const dir = this.full(p);
    try {
      const entries = await fs.readdir(dir, { withFileTypes: true });
      return entries
        .filter((e) => !LEGACY_TEMP.test(e.name) && !(dir === this.root && e.name === TEMP_DIR))
        .map((e) => e.name);
    } catch (err) {
      throw translate(err, p);
    }
  }

  async move(source: string, dest: string): Promise<void> {
    const from = this.full(source);
    const to = this.full(dest);
    await this.ensureTemp();
    try {
      // The source may be scratch (an upload's data): its bytes are on disk before its new name
      // is. Its fsync (which also finds a missing source) runs beside the staging, as in putContent.
      let durable: Promise<void>;
      if (this.fsync) {
        durable = calls.syncPath(from);
        durable.catch(() => undefined); // awaited by publish
      } else {
        if (calls.now.stat(from) === undefined) throw new PathNotFoundError(source);
        durable = Promise.resolve();
      }
      await this.publisher.publish(from, to, this.fsync, durable);
    } catch (err) {
      throw translate(err, source);
    }
  }

  async delete(p: string, options?: WriteOptions): Promise<void> {
    const target = this.full(p);
    if (target === this.root) throw new Error('refusing to delete the storage root');
    const trash = await this.tempPath('trash');
    try {
      calls.now.rename(target, trash);
    } catch (err) {
      throw translate(err, p);
    }
    failpoint(Failpoints.deleteRenamed);
    if (this.syncs(options)) await syncChangedDir(path.dirname(target));
    // The path is gone for every reader already; a tree left in TEMP_DIR by a failure here is
    // swept later (sweepTemp), so this failure changes nothing the caller could act on.
    await fs.rm(trash, { recursive: true, force: true }).catch(() => undefined);
  }

  /**
   * Removes what earlier processes left in TEMP_DIR (a crash mid-write, a failed removal of a
   * deleted tree): every entry named before this process started and not by it, recursively, at
   * most `limit` per call. Returns how many it removed; logs nothing. Meant to be awaited once at
   * start, before serving; the first write starts one itself when nobody has. Safe while this
   * process writes: its own entries are never touched.
   */
  sweepTemp(limit = SWEEP_LIMIT): Promise<number> {
    this.swept = true;
    const run = this.sweeps.then(() => sweepTempDir(this.tempRoot, limit));
    this.sweeps = run.catch(() => undefined);
    return run;
  }

  /** Whether this write is synced: fsync on, and not scratch. */
  private syncs(options: WriteOptions | undefined): boolean {
    return this.fsync && options?.scratch !== true;
  }

  private ensureTemp(): Promise<void> {
    if (!this.tempReady) {
      const ready = fs.mkdir(this.tempRoot, { recursive: true }).then(() => {
        // Leftovers of an earlier crash, when the start did not sweep; in the background, as
        // nothing here depends on them being gone (a failure is retried by the next start).
        if (!this.swept) void this.sweepTemp().catch(() => undefined);
      });
      this.tempReady = ready.catch((err: unknown) => {
        this.tempReady = null;
        throw err;
      });
    }
    return this.tempReady;
  }

  private async tempPath(kind: 'file' | 'dir' | 'trash'): Promise<string> {
    await this.ensureTemp();
    return path.join(this.tempRoot, tempEntryName(kind));
  }
}

function translate(err: unknown, p: string): unknown {
  return isEnoent(err) ? new PathNotFoundError(p) : err;
}
