/** Settings both benchmarks share: the project root and environment knobs. */
import { mkdirSync } from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

/** The project root (this file is bench/lib/env.ts). */
export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

/**
 * Where the benchmarks keep the servers' storage roots and their own scratch files:
 * BENCH_TMPDIR, else `.bench/tmp` in the project (beside the results). Not the system temp
 * directory: on these machines /tmp is churned by every test run, and a directory fsync there
 * took 1.0-1.2 ms against 0.19-0.33 ms anywhere else on the same disk (/var/lib, /root, the
 * checkout), which taxes a server that syncs five times over and one that does not not at all.
 */
export function benchTmpDir(): string {
  const dir = process.env.BENCH_TMPDIR || path.join(ROOT, '.bench', 'tmp');
  mkdirSync(dir, { recursive: true });
  return dir;
}

/** The CNCF Distribution binary both benchmarks compare against. */
export const DISTRIBUTION_BIN = process.env.BENCH_DISTRIBUTION_BIN ?? '/usr/bin/docker-registry';

/** An integer knob from the environment: `def` when unset or empty, an error when outside [min, max]. */
export function intEnv(name: string, def: number, min: number, max: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return def;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < min || n > max) throw new Error(`${name} must be an integer in [${min}, ${max}]`);
  return n;
}

/** A comma-list knob picking from `all` (kept in the order of `all`); every entry when unset. */
export function listEnv<T extends string>(name: string, all: readonly T[]): T[] {
  const raw = process.env[name];
  if (raw === undefined || raw.trim() === '') return [...all];
  const picked = raw.split(',').map((s) => s.trim());
  for (const p of picked) if (!(all as readonly string[]).includes(p)) throw new Error(`${name}: unknown "${p}" (known: ${all.join(', ')})`);
  return all.filter((a) => picked.includes(a));
}
