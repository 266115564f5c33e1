import * as fs from 'node:fs/promises';
import { randomUUID } from 'node:crypto';
import * as path from 'node:path';
import { Writable } from 'node:stream';
import type { Readable } from 'node:stream';
import { PathNotFoundError, type FileInfo, type FileWriter, type StorageDriver } from './driver.ts';

/** Stores everything under one root directory; atomic publication by rename within it. */
export class FilesystemDriver implements StorageDriver {
  readonly name = 'filesystem';
  readonly root: string;

  constructor(rootDirectory: string) {
    this.root = path.resolve(rootDirectory);
  }

  private full(p: string): string {
    const resolved = path.resolve(this.root, `./${p}`);
    // Defence in depth: callers only pass paths built from validated names.
    if (resolved !== this.root && !resolved.startsWith(this.root + path.sep)) {
      throw new Error(`path escapes the storage root: ${p}`);
    }
    return resolved;
  }

  async getContent(p: string): Promise<Buffer> {
    try {
      return await fs.readFile(this.full(p));
    } catch (err) {
      throw translate(err, p);
    }
  }

  async putContent(p: string, content: Buffer | string): Promise<void> {
    const target = this.full(p);
    await fs.mkdir(path.dirname(target), { recursive: true });
    const tmp = `${target}.${randomUUID()}.tmp`;
    try {
      await fs.writeFile(tmp, content);
      await fs.rename(tmp, target);
    } catch (err) {
      await fs.rm(tmp, { force: true });
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
    return handle.createReadStream({ start: range?.start, end: range?.end, highWaterMark: 256 * 1024 });
  }

  async writer(p: string, append: boolean): Promise<FileWriter> {
    const file = this.full(p);
    await fs.mkdir(path.dirname(file), { recursive: true });
    let startSize = 0;
    if (append) {
      try {
        startSize = (await fs.stat(file)).size;
      } catch (err) {
        if (!isEnoent(err)) throw err;
      }
    }
    const handle = await fs.open(file, append ? 'a' : 'w');
    return new FilesystemWriter(handle, startSize);
  }

  async stat(p: string): Promise<FileInfo> {
    try {
      const st = await fs.stat(this.full(p));
      return { path: p, size: st.size, modifiedAt: st.mtime, isDirectory: st.isDirectory() };
    } catch (err) {
      throw translate(err, p);
    }
  }

  async list(p: string): Promise<string[]> {
    try {
      const entries = await fs.readdir(this.full(p), { withFileTypes: true });
      return entries.filter((e) => !e.name.endsWith('.tmp')).map((e) => e.name);
    } catch (err) {
      throw translate(err, p);
    }
  }

  async move(source: string, dest: string): Promise<void> {
    const target = this.full(dest);
    await fs.mkdir(path.dirname(target), { recursive: true });
    try {
      await fs.rename(this.full(source), target);
    } catch (err) {
      throw translate(err, source);
    }
  }

  async delete(p: string): Promise<void> {
    const file = this.full(p);
    try {
      await fs.stat(file);
    } catch (err) {
      throw translate(err, p);
    }
    await fs.rm(file, { recursive: true, force: true });
  }
}

class FilesystemWriter implements FileWriter {
  readonly stream: Writable;
  readonly startSize: number;
  written = 0;

  constructor(
    private readonly handle: fs.FileHandle,
    startSize: number,
  ) {
    this.startSize = startSize;
    // Written straight to the handle (opened for append) so that `written` counts only bytes
    // the kernel accepted, even when the pipeline feeding us fails part-way.
    this.stream = new Writable({
      highWaterMark: 1024 * 1024,
      writev: (chunks, cb) => {
        const buffers = chunks.map((c) => c.chunk as Buffer);
        handle.writev(buffers).then((res) => {
          this.written += res.bytesWritten;
          cb();
        }, cb);
      },
    });
  }

  async commit(): Promise<void> {
    await this.handle.sync();
    await this.handle.close();
  }

  async cancel(): Promise<void> {
    try {
      await this.handle.truncate(this.startSize);
    } finally {
      await this.handle.close().catch(() => undefined);
    }
  }
}

function isEnoent(err: unknown): boolean {
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  return code === 'ENOENT' || code === 'ENOTDIR';
}

function translate(err: unknown, p: string): unknown {
  return isEnoent(err) ? new PathNotFoundError(p) : err;
}
