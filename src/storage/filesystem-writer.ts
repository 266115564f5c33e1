import type * as fs from 'node:fs/promises';
import { Writable } from 'node:stream';
import type { FileWriter } from './driver.ts';
import { syncPath } from './fs-calls.ts';

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
        this.writeAll(chunks.map((c) => c.chunk as Buffer)).then(() => cb(), cb);
      },
    });
  }

  /**
   * Writes every byte, or fails: a write may take fewer bytes than given without an error (a
   * nearly full disk does that), so the rest is written again until the kernel says why not.
   */
  private async writeAll(buffers: Buffer[]): Promise<void> {
    let rest = buffers;
    while (rest.length > 0) {
      const { bytesWritten } = await this.handle.writev(rest);
      this.written += bytesWritten;
      if (bytesWritten === 0) {
        // No progress and no error: ask once more with one buffer, which reports the cause.
        const { bytesWritten: again } = await this.handle.write(rest[0]!);
        if (again === 0) throw Object.assign(new Error('no space left on device'), { code: 'ENOSPC' });
        this.written += again;
        rest = skip(rest, again);
        continue;
      }
      rest = skip(rest, bytesWritten);
    }
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

/** The buffers after the first `n` bytes. */
function skip(buffers: Buffer[], n: number): Buffer[] {
  const out: Buffer[] = [];
  let left = n;
  for (const b of buffers) {
    if (left >= b.length) {
      left -= b.length;
      continue;
    }
    out.push(left > 0 ? b.subarray(left) : b);
    left = 0;
  }
  return out;
}
