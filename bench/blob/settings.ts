/** Knobs and constants of the blob benchmark (see bench/blob-throughput.ts). */
import { intEnv } from '../lib/env.ts';

export const MiB = 1024 * 1024;
export const BLOB_MIB = intEnv('BENCH_BLOB_MIB', 1024, 1, 4096);
export const ROUNDS = intEnv('BENCH_ROUNDS', 3, 1, 10);
/**
 * Dockyard's entry point, relative to the project root. The default is what `npm start` runs:
 * the compiled dist/main.js (built first with `npm run build`). A .ts entry runs under `--import tsx`.
 */
export const DOCKYARD_ENTRY = process.env.BENCH_DOCKYARD_ENTRY ?? 'dist/main.js';
export const OVERALL_TIMEOUT_MS = 10 * 60_000;
export const READY_TIMEOUT_MS = 30_000;
export const IDLE_TIMEOUT_MS = 60_000; // no bytes moving on a request for this long: fail
export const STOP_TIMEOUT_MS = 10_000;
export const SAMPLE_MS = 50;
export const RSS_GOAL_MB = 150;

export type ServerKind = 'dockyard' | 'distribution';
export const KINDS: ServerKind[] = ['dockyard', 'distribution'];
export const LABEL: Record<ServerKind, string> = { dockyard: 'Dockyard', distribution: 'Distribution 2.8.2' };
