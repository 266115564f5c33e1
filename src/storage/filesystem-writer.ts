import type * as fs from 'node:fs/promises';
import { open } from 'node:fs/promises';
import { Writable } from 'node:stream';
import type { FileWriter } from './driver.ts';

/** The filesystem driver's FileWriter: bytes straight to an open file, synced on commit. */
export class FilesystemWriter implements FileWriter {
  readonly stream: Writable;
  readonly startSize: number;
  written = 0;

  /** `sync`: false, true (fsync the file on commit), or the directory to fsync too (a new file). */
  constructor(
    private readonly handle: fs.FileHandle,
    startSize: number,
    private readonly sync: boolean | string,
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
    try {
      if (this.sync !== false) await this.handle.sync();
    } finally {
      await this.handle.close();
    }
    if (typeof this.sync === 'string') await syncPath(this.sync);
  }

  async cancel(): Promise<void> {
    try {
      await this.handle.truncate(this.startSize);
    } finally {
      await this.handle.close().catch(() => undefined);
    }
  }
}

/** fsync of a file or a directory (a directory's entries are durable only once it is synced). */
export async function syncPath(p: string): Promise<void> {
  const handle = await open(p, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}
