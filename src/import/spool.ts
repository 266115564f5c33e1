import { mkdir, rm } from 'node:fs/promises';
import * as path from 'node:path';
import { sweepTempDir, tempEntryName } from '../storage/tmp-sweep.ts';

/**
 * The registry's own directory for uploaded archives while they are imported: one subdirectory
 * per request, removed when the request ends, whatever its outcome. What a crash left behind is
 * removed before the first import of the next run (named as the storage temp files are, so a
 * sweep knows which entries are this process's).
 */
export class Spool {
  private swept: Promise<void> | null = null;

  constructor(readonly dir: string) {}

  /** A fresh, empty directory for one request's upload. */
  async open(): Promise<{ dir: string; remove: () => Promise<void> }> {
    await mkdir(this.dir, { recursive: true });
    this.swept ??= sweepTempDir(this.dir).then(() => undefined, () => undefined);
    await this.swept;
    const dir = path.join(this.dir, tempEntryName('dir'));
    await mkdir(dir);
    return { dir, remove: () => rm(dir, { recursive: true, force: true, maxRetries: 2 }) };
  }
}
