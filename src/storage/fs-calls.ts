/**
 * The filesystem driver's system calls, of two kinds on purpose.
 *
 * `now`: the metadata calls of the write path (stat, mkdir, link, rename, unlink, creating a
 * small file), made synchronously on the calling thread. They change directories this process
 * has just used, hot in the kernel's caches, and take a few microseconds each. The same call
 * through libuv's thread pool costs the main thread ~30 µs of CPU and the request ~60-100 µs of
 * latency (a wake-up of a pool thread and of the event loop), and a pushed image makes some 150
 * of them one after another: a third of its time, before this. BENCHMARKS.md, issue 12.
 *
 * The rest, calls that wait on the device (fsync; reads, which may miss the page cache): through
 * the thread pool, as promises, in node:fs's callback forms. The fs/promises forms cost up to
 * twice the CPU for the same system calls (a FileHandle per open file, a captured stack per
 * ENOENT), on a path that makes four to eight of them per manifest read.
 */
import fs from 'node:fs';
import { promisify } from 'node:util';

export const stat = promisify(fs.stat);

/** The whole of a small file (a link, a manifest), read in one go. */
export function readSmallFile(file: string): Promise<Buffer> {
  return new Promise((resolve, reject) => fs.readFile(file, (err, data) => (err ? reject(err) : resolve(data))));
}

/** fsync of an open file, looked up on node:fs when called (a test counts them there). */
export function fsync(fd: number): Promise<void> {
  return new Promise((resolve, reject) => fs.fsync(fd, (err) => (err ? reject(err) : resolve())));
}

/**
 * fsync of a file or a directory (a directory's entries are durable only once it is synced): one
 * trip to the pool, for the fsync; the open and close are metadata calls on what was just changed.
 */
export async function syncPath(p: string): Promise<void> {
  const fd = fs.openSync(p, 'r');
  try {
    await fsync(fd);
  } finally {
    fs.closeSync(fd);
  }
}

/** The write path's metadata calls, synchronous (why: above). They throw as node:fs does. */
export const now = {
  /** The entry's stats, or undefined when there is none (no Error built for that). */
  stat: (p: string): fs.Stats | undefined => fs.statSync(p, { throwIfNoEntry: false }),
  /** One directory; its parent exists. */
  mkdir: (dir: string): void => fs.mkdirSync(dir),
  rename: (from: string, to: string): void => fs.renameSync(from, to),
  link: (existing: string, name: string): void => fs.linkSync(existing, name),
  unlink: (file: string): void => fs.unlinkSync(file),
  close: (fd: number): void => fs.closeSync(fd),
  /** Creates `file` (it must not exist) holding `content`; returns it still open, for its fsync. */
  createFile(file: string, content: Buffer | string): number {
    const fd = fs.openSync(file, 'wx');
    try {
      fs.writeFileSync(fd, content);
    } catch (err) {
      try {
        fs.closeSync(fd);
      } catch {
        // the write's error matters more
      }
      throw err;
    }
    return fd;
  },
};
