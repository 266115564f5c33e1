/**
 * Webhook notification delivery: Dockyard against CNCF Distribution 2.8.2.
 *
 *   npx tsx bench/notifications.ts        (or: npm run bench:notify)
 *
 * Three server configurations, each a fresh child process on an ephemeral loopback port with
 * fresh temp storage, run one after the other (never concurrently):
 *   dockyard          Dockyard, default delivery (one event per POST)
 *   dockyard-batched  Dockyard with `batch: {maxevents: 500, maxwait: 50ms}`
 *   distribution      /usr/bin/docker-registry (one event per POST, in-memory queue)
 * Each endpoint has `timeout: 1s, threshold: 5, backoff: 1s` and points at a receiver: a
 * node:http server on 127.0.0.1, in a worker thread of this process (its own event loop), that
 * answers 200 as soon as a POST's body has arrived, then parses the envelope and counts.
 *
 * Measurements (manifest GET by tag; the client is undici with keep-alive):
 *   1. latency:  BENCH_LATENCY_OPS sequential pulls, one tag per pull, BENCH_LATENCY_GAP_MS apart;
 *                latency = receiver got the POST carrying that tag's pull event - client read the
 *                end of that pull's response (both process.hrtime, CLOCK_MONOTONIC).
 *   2. burst:    BENCH_BURST_OPS pulls with BENCH_CONCURRENCY in flight; events/s at the receiver
 *                from the first to the last event, and last event after the last response.
 *   3. backlog:  pulls with BENCH_CONCURRENCY in flight for BENCH_SUSTAIN_S seconds; time from the
 *                last response to the last event, and events received against successful pulls.
 *   4. capacity: (diagnostic) the receiver answers 503 + Retry-After: 1 while BENCH_CAPACITY_OPS pulls
 *                run, and 200 again 1 s after them: the whole load is a standing backlog, and events/s
 *                from the first accepted POST to the last is what delivery alone can do, no longer
 *                capped by how fast the registry serves pulls.
 * Before each measurement the server is warmed up with BENCH_WARMUP_OPS pulls, whose events are
 * all received before the measurement starts. Server CPU time comes from /proc/<pid>/stat.
 *
 * Results: a Markdown table on stdout, JSON in .bench/notifications.json (rewritten after every
 * run, so an interrupted benchmark keeps what it measured).
 * Knobs: BENCH_LATENCY_OPS (500), BENCH_LATENCY_GAP_MS (20), BENCH_BURST_OPS (20000),
 *   BENCH_CONCURRENCY (32), BENCH_SUSTAIN_S (30), BENCH_WARMUP_OPS (1000), BENCH_DRAIN_TIMEOUT_S (90),
 *   BENCH_CAPACITY_OPS (10000), BENCH_ONLY (comma list of latency,burst,backlog,capacity), BENCH_CONFIGS (comma list of the three names),
 *   BENCH_DISTRIBUTION_BIN (/usr/bin/docker-registry),
 *   BENCH_DOCKYARD_NODE_ARGS (extra node flags for the Dockyard child, e.g. "--cpu-prof --cpu-prof-dir=/tmp/prof").
 *
 * Layout: bench/notifications/ — common.ts (knobs, phases, configurations, goals), receiver.ts,
 * load.ts (registry client and load generator), measure.ts, run.ts (one server, one measurement),
 * report.ts (table and goals); the helpers shared with bench/blob-throughput.ts in bench/lib/.
 */
import * as os from 'node:os';
import * as path from 'node:path';
import { benchTmpDir, ROOT } from './lib/env.ts';
import { fsyncProbeMs, machineFacts, sh, writeResultsJson } from './lib/machine.ts';
import { guardRun, runMain } from './lib/processes.ts';
import { buildDockyard } from './lib/registries.ts';
import { r2 } from './lib/stats.ts';
import {
  BURST_OPS,
  CONCURRENCY,
  DOCKYARD_NODE_ARGS,
  DRAIN_TIMEOUT_MS,
  LATENCY_GAP_MS,
  LATENCY_OPS,
  log,
  ONLY_CONFIGS,
  ONLY_PHASES,
  ORDER,
  OVERALL_TIMEOUT_MS,
  SUSTAIN_S,
  WARMUP_OPS,
} from './notifications/common.ts';
import { Receiver } from './notifications/receiver.ts';
import { buildTable, describeRun, fmt, goals } from './notifications/report.ts';
import { runOne, type Run } from './notifications/run.ts';

const runsSoFar: Run[] = [];
let benchStarted = '';
let FSYNC_MS = NaN;
let LOADAVG_AT_START: number[] = [];

async function writeResults(finished: boolean): Promise<string> {
  const result = {
    benchmark: 'notifications',
    date: benchStarted,
    finished,
    command: 'npm run bench:notify   # = npx tsx bench/notifications.ts',
    settings: {
      latencyOps: LATENCY_OPS,
      latencyGapMs: LATENCY_GAP_MS,
      burstOps: BURST_OPS,
      concurrency: CONCURRENCY,
      sustainSeconds: SUSTAIN_S,
      warmupOps: WARMUP_OPS,
      drainTimeoutMs: DRAIN_TIMEOUT_MS,
      endpoint: { timeout: '1s', threshold: 5, backoff: '1s' },
      batched: { maxevents: 500, maxwait: '50ms' },
      dockyardNodeArgs: DOCKYARD_NODE_ARGS,
      order: ORDER,
    },
    machine: {
      ...machineFacts(),
      tmpdir: benchTmpDir(),
      fdatasyncMedianMs: FSYNC_MS,
      gitHead: sh('git', ['-C', ROOT, 'rev-parse', '--short', 'HEAD']),
      srcUncommitted: sh('git', ['-C', ROOT, 'status', '--porcelain', '--', 'src']) || 'none',
      srcHashes: [...new Set(runsSoFar.map((r) => r.srcHash))],
      loadAvgAtStart: LOADAVG_AT_START,
    },
    goals: goals(runsSoFar),
    runs: runsSoFar,
  };
  return writeResultsJson('notifications', result);
}

async function main(): Promise<void> {
  buildDockyard();
  benchStarted = new Date().toISOString();
  FSYNC_MS = fsyncProbeMs('notify-bench-fsync-');
  LOADAVG_AT_START = os.loadavg().map(r2);
  if ((LOADAVG_AT_START[0] ?? 0) > 1.5) log(`note: load average ${LOADAVG_AT_START.join(' ')}: other work is running on this machine`);
  const disarm = guardRun(OVERALL_TIMEOUT_MS, async () => {
    log(`overall timeout of ${OVERALL_TIMEOUT_MS / 60_000} min reached; writing partial results`);
    await writeResults(false);
  });

  const receiver = await Receiver.start();
  log(`receiver on ${receiver.url}; phases ${ONLY_PHASES.join(', ')}; configs ${ONLY_CONFIGS.join(', ')}`);
  try {
    for (const phase of ONLY_PHASES) {
      for (const kind of ORDER[phase]) {
        if (!ONLY_CONFIGS.includes(kind)) continue;
        log(`${phase} ${kind}...`);
        const run = await runOne(phase, kind, receiver);
        runsSoFar.push(run);
        log(`  ${phase} ${kind}: ${describeRun(run)}`);
        await writeResults(false);
      }
    }
  } finally {
    await receiver.close();
  }
  disarm();
  const file = await writeResults(true);
  const hashes = new Set(runsSoFar.map((r) => r.srcHash));
  if (hashes.size > 1) log(`WARNING: src/ changed during the benchmark (${[...hashes].join(', ')}); runs measured different code`);

  const lines = [buildTable(runsSoFar), '', 'Goals (Dockyard):', ''];
  for (const g of goals(runsSoFar)) {
    if (g.met === null) continue;
    lines.push(`- ${g.goal}: measured ${typeof g.measured === 'number' ? fmt(g.measured, 2) : g.measured} ${g.unit} — ${g.met ? 'met' : 'NOT met'}`);
  }
  process.stdout.write(`${lines.join('\n')}\n`);
  log(`wrote ${path.relative(process.cwd(), file) || file}`);
}

runMain('notifications bench', main, () => writeResults(false));
