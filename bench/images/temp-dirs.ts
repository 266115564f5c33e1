/**
 * Temp directories of this benchmark's own (the image layout, pull destinations), removed when
 * done and, on a timeout or failure, by removeAllTempDirs (the servers' roots are withServer's).
 */
import { mkdtemp, rm } from 'node:fs/promises';
import * as path from 'node:path';
import { benchTmpDir } from '../lib/env.ts';

const dirs = new Set<string>();

export async function makeTempDir(prefix: string): Promise<string> {
  const dir = await mkdtemp(path.join(benchTmpDir(), prefix));
  dirs.add(dir);
  return dir;
}

export async function removeTempDir(dir: string): Promise<void> {
  await rm(dir, { recursive: true, force: true });
  dirs.delete(dir);
}

export async function removeAllTempDirs(): Promise<void> {
  for (const dir of [...dirs]) await removeTempDir(dir);
}
