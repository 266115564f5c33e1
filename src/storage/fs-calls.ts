/**
 * The filesystem driver's system calls, through node:fs's callback forms as promises. Each call
 * is one trip to libuv's thread pool either way, but the fs/promises forms add a FileHandle per
 * open file and an Error with a captured stack per ENOENT (met on every publish, looking for the
 * missing directories): up to twice the main thread's CPU for the same system calls, on a path
 * that makes a dozen of them per pushed blob and four to eight per manifest read. BENCHMARKS.md
 * ("Request rates", and issue 12's small pushes) has the figures.
 */
import fs from 'node:fs';
import { promisify } from 'node:util';

export const stat = promisify(fs.stat);
export const rename = promisify(fs.rename);
export const link = promisify(fs.link);
export const unlink = promisify(fs.unlink);
export const close = promisify(fs.close);
const open = promisify(fs.open);
const writeFd = promisify(fs.writeFile);

/** fsync of an open file, looked up on node:fs when called (a test counts them there). */
export function fsync(fd: number): Promise<void> {
  return new Promise((resolve, reject) => fs.fsync(fd, (err) => (err ? reject(err) : resolve())));
}

/** mkdir of one directory (its parent exists). */
export function mkdir(dir: string): Promise<void> {
  return new Promise((resolve, reject) => fs.mkdir(dir, (err) => (err ? reject(err) : resolve())));
}

/** The whole of a small file (a link, a manifest), read in one go. */
export function readSmallFile(file: string): Promise<Buffer> {
  return new Promise((resolve, reject) => fs.readFile(file, (err, data) => (err ? reject(err) : resolve(data))));
}

/** Creates `file` (it must not exist) holding `content`; returns it still open, for its fsync. */
export async function createFile(file: string, content: Buffer | string): Promise<number> {
  const fd = await open(file, 'wx');
  try {
    await writeFd(fd, content);
  } catch (err) {
    await close(fd).catch(() => undefined); // the write's error matters more
    throw err;
  }
  return fd;
}

/** fsync of a file or a directory (a directory's entries are durable only once it is synced). */
export async function syncPath(p: string): Promise<void> {
  const fd = await open(p, 'r');
  try {
    await fsync(fd);
  } finally {
    await close(fd);
  }
}
