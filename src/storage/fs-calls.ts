/**
 * The filesystem driver's system calls, of two kinds on purpose.
 *
 * `now`: the metadata calls (stat, mkdir, link, rename, unlink, creating a small file) and the
 * reads of small files (links, manifests, an upload's state), made synchronously on the calling
 * thread. They touch entries this process has just used, hot in the kernel's caches, and take a
 * few microseconds each. The same call through libuv's thread pool costs the main thread
 * ~30 µs of CPU, a pool thread as much again, and the request ~60-100 µs of latency (a wake-up
 * of a pool thread and of the event loop). A pushed image makes some 150 of them one after
 * another, a manifest GET by tag six (the tag link read, two stats): a third of the main
 * thread's samples and half of the server's CPU per request, before they were made here.
 * The price is a cold entry: its one device read stops the event loop instead of one request
 * (BENCHMARKS.md, issue 12).
 *
 * Through the thread pool, as promises in node:fs's callback forms (fs/promises costs up to
 * twice the CPU: a FileHandle per open file, a captured stack per ENOENT): fsync, which waits
 * for the device by its nature, and blob data, streamed by the driver's reader.
 */
import fs from 'node:fs';

/**
 * How many synchronous reads one turn of the event loop may make before the next ones wait for
 * a turn: a loop of reads that never waits on anything else (a reader polling a file, a sweep
 * over every manifest) would otherwise hold the thread, and with it every request and every
 * fsync's callback, until it ends. A turn of ordinary requests makes a few each.
 */
const READS_PER_TURN = 128;
let readsThisTurn = 0;
let turnWatched = false;
const newTurn = () => {
  readsThisTurn = 0;
  turnWatched = false;
};

/** Counts a synchronous read; a promise to wait on first when this turn has made its share. */
export function readTurn(): Promise<void> | undefined {
  if (!turnWatched) {
    turnWatched = true;
    setImmediate(newTurn);
  }
  if (++readsThisTurn <= READS_PER_TURN) return undefined;
  return new Promise((resolve) => setImmediate(resolve));
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

/** The metadata calls and small reads, synchronous (why: above). They throw as node:fs does. */
export const now = {
  /** The entry's stats, or undefined when there is none (no Error built for that). */
  stat: (p: string): fs.Stats | undefined => fs.statSync(p, { throwIfNoEntry: false }),
  /** The whole of a small file (a link, a manifest, an upload's state). */
  readFile: (file: string): Buffer => fs.readFileSync(file),
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
