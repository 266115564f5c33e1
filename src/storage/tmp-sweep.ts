import { randomBytes, randomUUID } from 'node:crypto';
import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import { performance } from 'node:perf_hooks';

/**
 * Names and sweeps the entries of the filesystem driver's temp directory. Every entry is named
 * `<ms since epoch>-<owner>-<uuid>.<kind>`; the owner is drawn once per process (per module
 * instance: worker threads would get their own, and none of ours writes storage), so the sweep
 * knows for certain which entries a writer of this process may still be using.
 */
const OWNER = randomBytes(6).toString('hex');
/** Before any writer of this process could have named an entry. */
const PROCESS_STARTED_AT = Math.floor(performance.timeOrigin);
/** At most this many entries are removed per sweep; the rest wait for the next one. */
export const SWEEP_LIMIT = 10_000;
const NAME = /^(\d+)-([0-9a-f]+)-/;

export function tempEntryName(kind: 'file' | 'dir' | 'trash'): string {
  return `${Date.now()}-${OWNER}-${randomUUID()}.${kind}`;
}

/**
 * A leftover: not this process's, and named before this process started (or not named by us at
 * all). A filesystem root is used by one process at a time, so that is every earlier crash's
 * debris; an entry named after this start by someone else is left alone all the same.
 */
export function isLeftover(name: string, startedAt = PROCESS_STARTED_AT): boolean {
  const match = NAME.exec(name);
  if (!match) return true;
  if (match[2] === OWNER) return false;
  return Number(match[1]) < startedAt;
}

/**
 * Removes the leftovers in `dir`, one at a time and at most `limit` of them; returns how many it
 * removed. A missing directory has none. An entry that cannot be removed (gone meanwhile, or an
 * error) is skipped: it is tried again by the next sweep. Logs nothing; the caller reports.
 */
export async function sweepTempDir(dir: string, limit = SWEEP_LIMIT): Promise<number> {
  let entries: AsyncIterable<{ name: string }>;
  try {
    entries = await fs.opendir(dir);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return 0;
    throw err;
  }
  let removed = 0;
  // Breaking out of the loop closes the directory handle.
  for await (const entry of entries) {
    if (removed >= limit) break;
    if (!isLeftover(entry.name)) continue;
    try {
      await fs.rm(path.join(dir, entry.name), { recursive: true, force: true, maxRetries: 2 });
      removed++;
    } catch {
      // Left for the next sweep: nothing this process writes depends on it being gone.
    }
  }
  return removed;
}
