/** Knobs, configurations and run order of the push-events benchmark (see bench/push-events.ts). */
import * as path from 'node:path';
import { intEnv, listEnv, ROOT } from '../lib/env.ts';

/** Images per measurement (each: a config blob, one 4 KiB layer, an OCI manifest by tag). */
export const IMAGES = intEnv('BENCH_PUSH_EVENTS_IMAGES', 200, 8, 10_000);
/** Concurrent clients in measurement (b); the IMAGES are split between them. */
export const CONCURRENCY = intEnv('BENCH_PUSH_EVENTS_CONCURRENCY', 8, 2, 64);
export const ROUNDS = intEnv('BENCH_ROUNDS', 3, 1, 10);
export const WARMUP_IMAGES = 5;
/** Images pushed under `strace -f -c` (0: no strace count). */
export const STRACE_IMAGES = intEnv('BENCH_PUSH_EVENTS_STRACE_IMAGES', 50, 0, 1000);

export const OVERALL_TIMEOUT_MS = intEnv('BENCH_PUSH_EVENTS_TIMEOUT_S', 12 * 60, 30, 3600) * 1000;
/** One measurement ((a) or (b)) on one server must finish within this. */
export const PHASE_TIMEOUT_MS = 120_000;
/** After a measurement's last push: how long to wait for its last push event. */
export const EVENTS_WAIT_MS = intEnv('BENCH_PUSH_EVENTS_WAIT_S', 30, 1, 300) * 1000;
export const READY_TIMEOUT_MS = 30_000;
export const STOP_TIMEOUT_MS = 10_000;

export const KINDS = ['head-endpoint', 'head-postgres', 'head-none', 'before-endpoint', 'distribution'] as const;
export type ServerKind = (typeof KINDS)[number];
export const LABEL: Record<ServerKind, string> = {
  'head-endpoint': 'Dockyard HEAD, 1 endpoint',
  'head-postgres': 'Dockyard HEAD, 1 endpoint, PostgreSQL outbox',
  'head-none': 'Dockyard HEAD, no endpoint',
  'before-endpoint': 'Dockyard b19b7e4, 1 endpoint',
  distribution: 'Distribution 2.8.2, 1 endpoint',
};
/** Which configurations run (comma list of KINDS; all by default). */
export const ONLY_KINDS = listEnv('BENCH_PUSH_EVENTS_KINDS', KINDS);
/** Configurations whose server delivers to the receiver. */
export const HAS_ENDPOINT: Record<ServerKind, boolean> = {
  'head-endpoint': true,
  'head-postgres': true,
  'head-none': false,
  'before-endpoint': true,
  distribution: true,
};

/** Dockyard under test: `dist/main.js` of this tree (built first) unless BENCH_DOCKYARD_ENTRY names another entry. */
export const DOCKYARD_ENTRY_RAW = process.env.BENCH_DOCKYARD_ENTRY ?? 'dist/main.js';
export const DOCKYARD_ENTRY = path.resolve(ROOT, DOCKYARD_ENTRY_RAW);
/**
 * Dockyard before the intent journal: the compiled entry of commit b19b7e4, built in a worktree
 * of its own (git worktree add /tmp/wt-before b19b7e4 && cd /tmp/wt-before && npm run build).
 */
export const BEFORE_ENTRY_RAW = process.env.BENCH_DOCKYARD_BEFORE_ENTRY ?? '/tmp/wt-before/dist/main.js';
export const BEFORE_ENTRY = path.resolve(ROOT, BEFORE_ENTRY_RAW);

/** Per round, the configurations in a rotated order (round 1: A B C D, round 2: B C D A, ...), reversed every other round. */
export function orderFor(round: number, kinds: readonly ServerKind[] = ONLY_KINDS): ServerKind[] {
  const k = (round - 1) % kinds.length;
  const rotated = [...kinds.slice(k), ...kinds.slice(0, k)];
  return round % 2 === 0 ? rotated.reverse() : rotated;
}
