/** Knobs, configurations, phases and goals of the notifications benchmark, and its clock and log. */
import { intEnv, listEnv } from '../lib/env.ts';

export const LATENCY_OPS = intEnv('BENCH_LATENCY_OPS', 500, 10, 10_000);
export const LATENCY_GAP_MS = intEnv('BENCH_LATENCY_GAP_MS', 20, 0, 1000);
export const BURST_OPS = intEnv('BENCH_BURST_OPS', 20_000, 100, 200_000);
export const CONCURRENCY = intEnv('BENCH_CONCURRENCY', 32, 1, 256);
export const SUSTAIN_S = intEnv('BENCH_SUSTAIN_S', 30, 1, 120);
export const CAPACITY_OPS = intEnv('BENCH_CAPACITY_OPS', 10_000, 100, 200_000);
export const WARMUP_OPS = intEnv('BENCH_WARMUP_OPS', 1000, 0, 20_000);
export const DRAIN_TIMEOUT_MS = intEnv('BENCH_DRAIN_TIMEOUT_S', 90, 5, 300) * 1000;
export const DOCKYARD_NODE_ARGS = (process.env.BENCH_DOCKYARD_NODE_ARGS ?? '').split(/\s+/).filter(Boolean);
export const OVERALL_TIMEOUT_MS = 15 * 60_000;
export const READY_TIMEOUT_MS = 30_000;
export const STOP_TIMEOUT_MS = 15_000;
export const REQUEST_TIMEOUT_MS = 30_000;
/** Upper bound on pulls in the time-bounded run, whatever the rate. */
export const SUSTAIN_MAX_OPS = 2_000_000;

export const GOALS = { latencyP50Ms: 20, unbatchedEventsPerS: 2_000, batchedEventsPerS: 20_000, backlogS: 2 };

export const PHASES = ['latency', 'burst', 'backlog', 'capacity'] as const;
export type Phase = (typeof PHASES)[number];
export const CONFIGS = ['dockyard', 'dockyard-batched', 'distribution'] as const;
export type ConfigKind = (typeof CONFIGS)[number];
export const LABEL: Record<ConfigKind, string> = {
  dockyard: 'Dockyard (unbatched)',
  'dockyard-batched': 'Dockyard (batched 500/50ms)',
  distribution: 'Distribution 2.8.2',
};
/** Run order per phase: alternated, so no configuration always goes first (or last). */
export const ORDER: Record<Phase, ConfigKind[]> = {
  latency: ['dockyard', 'distribution', 'dockyard-batched'],
  burst: ['dockyard-batched', 'distribution', 'dockyard'],
  backlog: ['dockyard', 'distribution', 'dockyard-batched'],
  capacity: ['distribution', 'dockyard-batched', 'dockyard'],
};

export const ONLY_PHASES = listEnv('BENCH_ONLY', PHASES);
export const ONLY_CONFIGS = listEnv('BENCH_CONFIGS', CONFIGS);

/** Milliseconds on CLOCK_MONOTONIC: the same clock in every thread (and process) of the machine. */
export function nowMs(): number {
  return Number(process.hrtime.bigint()) / 1e6;
}

function stamp(): string {
  return new Date().toISOString().slice(11, 19);
}

export function log(line: string): void {
  process.stderr.write(`[${stamp()}] ${line}\n`);
}
