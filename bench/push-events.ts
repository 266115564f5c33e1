/**
 * What durable events cost a push: Dockyard at this tree with one notification endpoint and
 * with none, Dockyard at b19b7e4 (before the intent journal: it probed the outbox before a
 * change instead) with the endpoint, and CNCF Distribution 2.8.2 with the same endpoint.
 *
 *   npx tsx bench/push-events.ts        (or: npm run bench:push-events)
 *
 * The endpoint is a node:http receiver on 127.0.0.1 in a worker thread of this process,
 * answering 200. Per round, each configuration in turn (order rotated per round, reversed every
 * other round) gets a fresh child process on an ephemeral loopback port with fresh temp storage
 * (removed afterwards), a 5-image warm-up, then
 *   (a) IMAGES small images pushed one after another by one client (config blob and one 4 KiB
 *       layer, each POST -> PUT ?digest=, then an OCI manifest PUT by tag; nothing deduplicated);
 *   (b) the same number of images from CONCURRENCY clients, each to its own repository;
 * after each, a bounded wait until the receiver has one manifest push event per image.
 * Server CPU from /proc/<pid>/stat. Then, if strace is installed and time is left,
 * `strace -f -c -e trace=fsync,fdatasync` over STRACE_IMAGES pushes per configuration
 * (HEAD with the endpoint first; each only while 100 s of the overall bound are left).
 *
 * Results: a Markdown table on stdout, JSON in .bench/push-events.json.
 * Knobs: BENCH_PUSH_EVENTS_IMAGES (200), BENCH_PUSH_EVENTS_CONCURRENCY (8), BENCH_ROUNDS (3),
 *   BENCH_PUSH_EVENTS_KINDS (all: head-endpoint,head-postgres,head-none,before-endpoint,distribution;
 *   head-postgres is head-endpoint with the outbox in a PostgreSQL server the benchmark starts, Debian's),
 *   BENCH_PUSH_EVENTS_WAIT_S (30), BENCH_PUSH_EVENTS_STRACE_IMAGES (50; 0 = no strace count),
 *   BENCH_PUSH_EVENTS_TIMEOUT_S (720), BENCH_DISTRIBUTION_BIN,
 *   BENCH_DOCKYARD_ENTRY (dist/main.js of this tree, built first; another entry is not built),
 *   BENCH_DOCKYARD_BEFORE_ENTRY (/tmp/wt-before/dist/main.js: b19b7e4 built in a worktree of its own).
 */
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { writeResultsJson } from './lib/machine.ts';
import { guardRun, runMain } from './lib/processes.ts';
import { buildDockyard } from './lib/registries.ts';
import { Receiver } from './push-events/receiver.ts';
import { summarize } from './push-events/report.ts';
import { entryOf, runOne, usePostgres, type RunResult } from './push-events/run.ts';
import { startPostgres, type TestPostgres } from '../test/helpers/postgres.ts';
import {
  BEFORE_ENTRY,
  CONCURRENCY,
  DOCKYARD_ENTRY_RAW,
  IMAGES,
  ONLY_KINDS,
  OVERALL_TIMEOUT_MS,
  ROUNDS,
  STRACE_IMAGES,
  orderFor,
  type ServerKind,
} from './push-events/settings.ts';
import { straceCount, type StraceResult } from './push-events/strace.ts';

const LOAD_AT_START = os.loadavg();
const STARTED = new Date();
let receiver: Receiver | undefined;
let pg: TestPostgres | undefined;
/** What has been measured so far: reported even when the overall timeout ends the run early. */
const runs: RunResult[] = [];
const straces: StraceResult[] = [];

async function report(partial: boolean): Promise<void> {
  const { table, result } = summarize(runs, straces, LOAD_AT_START, STARTED);
  process.stdout.write(`${partial ? `PARTIAL (overall timeout; ${runs.length} runs complete)\n\n` : ''}${table}\n`);
  const file = await writeResultsJson('push-events', { partial, ...(result as object) });
  process.stderr.write(`wrote ${path.relative(process.cwd(), file) || '.bench/push-events.json'}\n`);
}

function hasStrace(): boolean {
  try {
    execFileSync('strace', ['-V'], { stdio: 'ignore', timeout: 5000 });
    return true;
  } catch {
    return false;
  }
}

async function main(): Promise<void> {
  const t0 = Date.now();
  if (DOCKYARD_ENTRY_RAW === 'dist/main.js' && ONLY_KINDS.some((k) => k === 'head-endpoint' || k === 'head-none')) buildDockyard();
  for (const k of ONLY_KINDS) {
    if (k !== 'distribution' && !existsSync(entryOf(k))) {
      throw new Error(`${k}: no Dockyard entry at ${entryOf(k)}` + (k === 'before-endpoint' ? ' (build b19b7e4 in a worktree, set BENCH_DOCKYARD_BEFORE_ENTRY)' : ''));
    }
  }
  const disarm = guardRun(OVERALL_TIMEOUT_MS, async () => {
    process.stderr.write(`push-events: overall timeout of ${OVERALL_TIMEOUT_MS / 1000} s reached\n`);
    await receiver?.close();
    if (runs.length > 0) await report(true);
  });
  if (ONLY_KINDS.includes('head-postgres')) {
    pg = await startPostgres('bench');
    usePostgres(pg);
  }
  receiver = await Receiver.start();
  process.stderr.write(
    `push-events: ${IMAGES} images (sequential, then ${CONCURRENCY} clients); ${ROUNDS} rounds of ${ONLY_KINDS.join(', ')}; ` +
      `before = ${BEFORE_ENTRY}; receiver ${receiver.url}; load average ${LOAD_AT_START.map((x) => x.toFixed(2)).join(' ')}\n`,
  );
  let runIndex = 0;
  for (let round = 1; round <= ROUNDS; round++) {
    for (const kind of orderFor(round)) {
      const r = await runOne(kind, round, ++runIndex, receiver);
      runs.push(r);
      const ev = (p: RunResult['sequential'] | RunResult['concurrent']) => (p.events ? ` ev ${p.events.received}/${p.events.expected}` : '');
      process.stderr.write(
        `  round ${round} ${kind.padEnd(16)} (a) ${r.sequential.imagesPerSecond.toFixed(1)} img/s p50 ${r.sequential.msPerImageP50.toFixed(1)} ms${ev(r.sequential)}` +
          `  (b) ${r.concurrent.imagesPerSecond.toFixed(1)} img/s${ev(r.concurrent)}  load ${os.loadavg()[0]?.toFixed(2)}  [${Math.round((Date.now() - t0) / 1000)} s]\n`,
      );
    }
  }
  if (STRACE_IMAGES > 0 && hasStrace()) {
    const wanted: ServerKind[] = ['head-endpoint', 'head-postgres', 'head-none', 'before-endpoint', 'distribution'];
    for (const kind of wanted.filter((k) => ONLY_KINDS.includes(k))) {
      const left = OVERALL_TIMEOUT_MS - (Date.now() - t0);
      if (left < 100_000) {
        process.stderr.write(`  strace ${kind}: skipped, ${Math.round(left / 1000)} s left\n`);
        continue;
      }
      const s = await straceCount(kind, STRACE_IMAGES, ++runIndex, receiver, 60_000);
      straces.push(s);
      process.stderr.write(`  strace ${kind}: ${s.fsync} fsync + ${s.fdatasync} fdatasync / ${s.images} images = ${s.perImage.toFixed(1)} per image\n`);
    }
  } else if (STRACE_IMAGES > 0) process.stderr.write('  strace: not installed, no fsync count\n');
  disarm();
  await receiver.close();
  await pg?.stop();
  await report(false);
}

runMain('push-events', main, async () => {
  await receiver?.close();
  await pg?.stop();
});
