/** Facts about the machine and the tree a benchmark ran on, for its JSON results. */
import { execFileSync } from 'node:child_process';
import { closeSync, fdatasyncSync, openSync, unlinkSync, writeSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import { benchTmpDir, DISTRIBUTION_BIN, ROOT } from './env.ts';
import { percentile, r3 } from './stats.ts';

/** A command's trimmed stdout, or `unavailable (<first line of the error>)`. */
export function sh(cmd: string, args: string[]): string {
  try {
    return execFileSync(cmd, args, { encoding: 'utf8', timeout: 10_000 }).trim();
  } catch (err) {
    return `unavailable (${(err as Error).message.split('\n')[0]})`;
  }
}

/** CPU, memory, Node, kernel and the Distribution version (the first keys of `machine` in both results). */
export function machineFacts() {
  return {
    nproc: os.availableParallelism(),
    cpu: os.cpus()[0]?.model ?? 'unknown',
    memTotalBytes: os.totalmem(),
    node: process.version,
    kernel: os.release(),
    distribution: sh(DISTRIBUTION_BIN, ['--version']),
  };
}

/** Median time (ms) of a 4 KiB write + fdatasync in the temp directory (where both servers keep their data). */
export function fsyncProbeMs(filePrefix: string): number {
  const file = path.join(benchTmpDir(), `${filePrefix}${process.pid}`);
  const fd = openSync(file, 'w');
  const times: number[] = [];
  const nowMs = () => Number(process.hrtime.bigint()) / 1e6;
  try {
    const block = Buffer.alloc(4096, 1);
    for (let i = 0; i < 50; i++) {
      writeSync(fd, block);
      const t = nowMs();
      fdatasyncSync(fd);
      times.push(nowMs() - t);
    }
  } finally {
    closeSync(fd);
    unlinkSync(file);
  }
  times.sort((a, b) => a - b);
  return r3(percentile(times, 50));
}

/** Writes `.bench/<name>.json` (pretty-printed) under the project root; returns its path. */
export async function writeResultsJson(name: string, result: unknown): Promise<string> {
  const outDir = path.join(ROOT, '.bench');
  await mkdir(outDir, { recursive: true });
  const file = path.join(outDir, `${name}.json`);
  await writeFile(file, `${JSON.stringify(result, null, 2)}\n`);
  return file;
}
