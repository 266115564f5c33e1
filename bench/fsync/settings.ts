/** Knobs and constants of the fsync-cost benchmark (see bench/fsync-cost.ts). */
import { intEnv } from '../lib/env.ts';

export const MiB = 1024 * 1024;
/** Images per small-push measurement (each: a config blob, one 4 KiB layer, a manifest). */
export const IMAGES = intEnv('BENCH_FSYNC_IMAGES', 200, 8, 10_000);
/** Concurrent clients in measurement (b); the IMAGES are split between them. */
export const CONCURRENCY = intEnv('BENCH_FSYNC_CONCURRENCY', 8, 2, 64);
export const LAYER_BYTES = 4096;
export const BIG_BLOB_MIB = intEnv('BENCH_FSYNC_BLOB_MIB', 256, 1, 2048);
export const ROUNDS = intEnv('BENCH_ROUNDS', 3, 1, 10);
export const OVERALL_TIMEOUT_MS = 9 * 60_000;
/** One measurement (a, b or c) on one server must finish within this. */
export const PHASE_TIMEOUT_MS = 120_000;
export const READY_TIMEOUT_MS = 30_000;
export const REQUEST_TIMEOUT_MS = 60_000; // no bytes moving on a request for this long: fail
export const STOP_TIMEOUT_MS = 10_000;

export type ServerKind = 'dockyard-fsync' | 'dockyard-nofsync' | 'distribution';
export const KINDS: ServerKind[] = ['dockyard-fsync', 'dockyard-nofsync', 'distribution'];
export const LABEL: Record<ServerKind, string> = {
  'dockyard-fsync': 'Dockyard, fsync on (default)',
  'dockyard-nofsync': 'Dockyard, fsync off',
  distribution: 'Distribution 2.8.2',
};

/** Per round, the servers in a rotated order (round 1: A B C, round 2: B C A, round 3: C A B, ...), reversed every other round. */
export function orderFor(round: number): ServerKind[] {
  const k = (round - 1) % KINDS.length;
  const rotated = [...KINDS.slice(k), ...KINDS.slice(0, k)];
  return round % 2 === 0 ? rotated.reverse() : rotated;
}
