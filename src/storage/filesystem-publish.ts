import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import { failpoint } from '../failpoint.ts';
import * as calls from './fs-calls.ts';
import { Failpoints } from './failpoints.ts';

/** Renames lost to a concurrent writer or delete of the same directory are retried this often. */
const PUBLISH_ATTEMPTS = 10;

/**
 * How the filesystem driver makes a complete file visible in one atomic step: a rename into
 * place; when its directory does not exist yet, the missing subtree is built in the driver's
 * temp directory around it and its topmost directory renamed into place, so no reader ever lists
 * a directory without its file. With `sync`, everything is fsynced before the rename and the
 * directory it changed after, so the file is on disk when the call returns.
 */
export class Publisher {
  constructor(
    private readonly root: string,
    /** A new, unused path in the driver's temp directory (on the same filesystem as `root`). */
    private readonly tempPath: (kind: 'file' | 'dir') => Promise<string>,
  ) {}

  /**
   * Renames the complete file `source` to `target` in one atomic step, creating `target`'s
   * missing directories in the same step, once `durable` (the source's own fsync) has settled.
   * On failure the file is still at `source`. `missing`: what topmostMissing just found, if known.
   */
  async publish(source: string, target: string, sync: boolean, durable: Promise<void>, missing?: string | null): Promise<void> {
    let sourceFailed = false;
    durable.catch(() => {
      sourceFailed = true; // not a lost race: publishing again cannot help
    });
    for (let attempt = 1; ; attempt++) {
      const parent = path.dirname(target);
      try {
        const absent = attempt === 1 && missing !== undefined ? missing : this.topmostMissing(parent);
        if (absent === null) {
          await durable;
          calls.now.rename(source, target);
          failpoint(Failpoints.renamed);
          if (sync) await syncChangedDir(parent);
        } else {
          await this.publishSubtree(source, target, absent, sync, durable);
        }
        return;
      } catch (err) {
        // Lost a race: the directory was created (EEXIST, ENOTEMPTY) or removed (ENOENT) by
        // another writer or a delete meanwhile. Look again.
        if (sourceFailed || !isRaceLost(err) || attempt >= PUBLISH_ATTEMPTS) throw err;
      }
    }
  }

  /**
   * Builds `missing`'s subtree around the file in TEMP_DIR, then renames it into place. The file
   * gets its new name by a hard link, so that until the subtree is in place it is still at
   * `source` (a crash in between loses nothing: the stage is swept); `source` goes last. The
   * staged directories are synced beside `durable`, and all of them before the rename.
   */
  private async publishSubtree(source: string, target: string, missing: string, sync: boolean, durable: Promise<void>): Promise<void> {
    const { stage, dirs, staged } = await this.stageFor(target, missing);
    let linked = true;
    let inPlace = false;
    try {
      for (const dir of dirs) calls.now.mkdir(dir);
      try {
        calls.now.link(source, staged);
      } catch (err) {
        // A filesystem without hard links: the file moves into the stage (a crash before the
        // rename below then leaves it in TEMP_DIR), and is moved back on failure.
        if (!isNoHardLinks(err)) throw err;
        await durable;
        calls.now.rename(source, staged);
        linked = false;
      }
      try {
        await allSettledOrThrow([durable, ...(sync ? dirs.map((dir) => calls.syncPath(dir)) : [])]);
        failpoint(Failpoints.subtreeStaged);
        calls.now.rename(stage, missing);
        inPlace = true;
      } catch (err) {
        if (!linked) {
          try {
            calls.now.rename(staged, source);
          } catch {
            // the original error matters more
          }
        }
        throw err;
      }
    } finally {
      // Once renamed the stage is gone; removing it then would only cost system calls.
      if (!inPlace) await fs.rm(stage, { recursive: true, force: true }).catch(() => undefined);
    }
    failpoint(Failpoints.renamed);
    if (linked) calls.now.unlink(source);
    if (sync) await syncChangedDir(path.dirname(missing));
  }

  /**
   * A new file in a missing directory (a new tag, link or blob): written straight into a stage
   * of the missing subtree, which is renamed into place, so no temp file is linked and unlinked.
   * False, with nothing left behind, when the rename lost a race (the directory appeared, or an
   * ancestor went, meanwhile): the caller publishes the usual way then, which looks again.
   */
  async createInStage(target: string, missing: string, content: Buffer | string, sync: boolean): Promise<boolean> {
    const { stage, dirs, staged } = await this.stageFor(target, missing);
    let inPlace = false;
    try {
      for (const dir of dirs) calls.now.mkdir(dir);
      const fd = calls.now.createFile(staged, content);
      failpoint(Failpoints.fileWritten);
      try {
        // One journal commit for the file and its directories, as in publishSubtree.
        await allSettledOrThrow(sync ? [calls.fsync(fd), ...dirs.map((dir) => calls.syncPath(dir))] : []);
      } finally {
        calls.now.close(fd);
      }
      failpoint(Failpoints.subtreeStaged);
      try {
        calls.now.rename(stage, missing);
      } catch (err) {
        if (isRaceLost(err)) return false;
        throw err;
      }
      inPlace = true;
    } finally {
      if (!inPlace) await fs.rm(stage, { recursive: true, force: true }).catch(() => undefined);
    }
    failpoint(Failpoints.renamed);
    if (sync) await syncChangedDir(path.dirname(missing));
    return true;
  }

  /** A new stage in TEMP_DIR for `missing`'s subtree: its directories top-down, and where the file goes. */
  private async stageFor(target: string, missing: string): Promise<{ stage: string; dirs: string[]; staged: string }> {
    const stage = await this.tempPath('dir');
    // Made top-down, one mkdir each: a recursive mkdir tries the deepest first, failing once per level.
    const dirs = [stage];
    for (const name of path.relative(missing, path.dirname(target)).split(path.sep).filter(Boolean)) {
      dirs.push(path.join(dirs[dirs.length - 1] as string, name));
    }
    return { stage, dirs, staged: path.join(dirs[dirs.length - 1] as string, path.basename(target)) };
  }

  /** The topmost directory on the way from the root to `dir` that does not exist, or null. */
  topmostMissing(dir: string): string | null {
    let missing: string | null = null;
    for (let current = dir; current !== this.root; current = path.dirname(current)) {
      const st = calls.now.stat(current);
      if (st === undefined) {
        missing = current;
        continue;
      }
      if (!st.isDirectory()) throw Object.assign(new Error(`not a directory: ${current}`), { code: 'ENOTDIR' });
      break;
    }
    return missing;
  }
}

/**
 * fsync of a directory this driver just renamed something into or out of. Gone by now means a
 * concurrent delete took it (and what the rename put there) after the rename: the change happened
 * and was deleted, and the delete syncs its own change. Not an error of this write, and no reason
 * to publish again (the source is gone).
 */
export async function syncChangedDir(dir: string): Promise<void> {
  try {
    await calls.syncPath(dir);
  } catch (err) {
    if (!isEnoent(err)) throw err;
  }
}

/** Waits for every one (none is left running behind a failure), then throws the first failure. */
async function allSettledOrThrow(pending: Promise<unknown>[]): Promise<void> {
  for (const result of await Promise.allSettled(pending)) {
    if (result.status === 'rejected') throw result.reason;
  }
}

export function isEnoent(err: unknown): boolean {
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  return code === 'ENOENT' || code === 'ENOTDIR';
}

function isRaceLost(err: unknown): boolean {
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  return code === 'ENOENT' || code === 'EEXIST' || code === 'ENOTEMPTY';
}

function isNoHardLinks(err: unknown): boolean {
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  return code === 'EPERM' || code === 'ENOTSUP' || code === 'EOPNOTSUPP' || code === 'EXDEV' || code === 'EMLINK';
}
