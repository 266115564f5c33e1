/**
 * Image push and pull with a real client, and small-image pushes: Dockyard against CNCF
 * Distribution 2.8.2.
 *
 *   npx tsx bench/images.ts
 *
 * Rows: a 3 x 256 MiB image pushed (`skopeo copy oci:... docker://...`) and pulled (into a fresh
 * `dir:`) in MB/s; 500 distinct small images pushed over HTTP by 1 client and by 8 concurrent
 * clients, in images/s; peak RSS of each server per workload; and, once per run, the ceilings a
 * push works under: sha256 of node:crypto, and a sequential write to the same disk without fsync,
 * with one at the end, and with one every 64 MiB. Each round runs every workload against both
 * servers in alternation (order flipped each round); every server is a fresh child process on a
 * loopback port with its own empty root.
 * Results: the table on stdout, the section in BENCHMARKS.md, JSON in .bench/images.json.
 * Knobs: BENCH_ROUNDS (3), BENCH_LAYER_MIB (256), BENCH_LAYERS (3), BENCH_SMALL_IMAGES (500),
 * BENCH_PUSH_CLIENTS (8), BENCH_HASH_MIB (256), BENCH_DISK_MIB (1024), BENCH_TIMEOUT_S (2700),
 * BENCH_DOCKYARD_ENTRY (dist/main.js, built first; another path is run as it is, unbuilt);
 * BENCH_REPORT_FROM=.bench/images.json re-renders a saved run.
 * A smoke run: BENCH_ROUNDS=1 BENCH_LAYER_MIB=16 BENCH_SMALL_IMAGES=40 BENCH_DISK_MIB=64 BENCH_HASH_MIB=16 npx tsx bench/images.ts
 */
import { readFileSync } from 'node:fs';
import * as os from 'node:os';
import { ROOT } from './lib/env.ts';
import { machineFacts, sh, writeResultsJson } from './lib/machine.ts';
import { guardRun, removeKeptDirs, runMain } from './lib/processes.ts';
import { buildDockyard } from './lib/registries.ts';
import { writeBigImage } from './images/layout.ts';
import { measureLimits, type Limits } from './images/limits.ts';
import { writeSection, type RunFacts } from './images/report.ts';
import { runBigImage, runSmallImages, type Measurement } from './images/run.ts';
import { DOCKYARD_ENTRY, LAYERS, LAYER_MIB, OVERALL_TIMEOUT_MS, PUSH_CLIENTS, ROUNDS, SIZES, SMALL_IMAGES, type ServerKind } from './images/settings.ts';
import { skopeoVersion } from './images/skopeo.ts';
import { smallImages } from './images/small-images.ts';
import { summarize } from './images/summary.ts';
import { makeTempDir, removeAllTempDirs, removeTempDir } from './images/temp-dirs.ts';

const LOAD_AT_START = os.loadavg();

function dockyardCommit(): string {
  const head = sh('git', ['-C', ROOT, 'rev-parse', '--short', 'HEAD']);
  const dirty = sh('git', ['-C', ROOT, 'status', '--porcelain', '--', 'src']);
  if (DOCKYARD_ENTRY !== 'dist/main.js') return `${head} (entry ${DOCKYARD_ENTRY}, not built from this tree)`;
  return dirty ? `${head} (src/ has uncommitted changes)` : head;
}

function report(ms: Measurement[], limits: Limits, facts: RunFacts): ReturnType<typeof summarize> {
  const summary = summarize(ms, limits, facts.sizes);
  process.stdout.write(`${summary.table}\n`);
  process.stderr.write(`wrote ${writeSection(summary, facts)}\n`);
  return summary;
}

/** BENCH_REPORT_FROM=.bench/images.json: re-render the table and the section from a saved run, measuring nothing. */
function rerender(file: string): void {
  const saved = JSON.parse(readFileSync(file, 'utf8')) as { facts: RunFacts; limits: Limits; measurements: Measurement[] };
  report(saved.measurements, saved.limits, saved.facts);
}

async function main(): Promise<void> {
  const from = process.env.BENCH_REPORT_FROM;
  if (from) return rerender(from);
  if (DOCKYARD_ENTRY === 'dist/main.js') buildDockyard();
  const disarm = guardRun(OVERALL_TIMEOUT_MS, async () => {
    process.stderr.write(`images: overall timeout of ${OVERALL_TIMEOUT_MS / 1000} s reached\n`);
    await removeAllTempDirs();
  });
  const facts: RunFacts = { date: new Date().toISOString(), machine: machineFacts(), skopeo: await skopeoVersion(), dockyardCommit: dockyardCommit(), loadAtStart: LOAD_AT_START, sizes: SIZES };
  process.stderr.write('measuring the limits (sha256, disk writes)\n');
  const limits = measureLimits();
  process.stderr.write(`  ${JSON.stringify(limits)}\n`);
  process.stderr.write(`writing the ${LAYERS} x ${LAYER_MIB} MiB OCI layout; building ${SMALL_IMAGES} small images\n`);
  const layoutDir = await makeTempDir('images-bench-layout-');
  const ms: Measurement[] = [];
  try {
    const big = await writeBigImage(layoutDir);
    const small = smallImages(SMALL_IMAGES);
    for (let round = 1; round <= ROUNDS; round++) {
      const order: ServerKind[] = round % 2 === 1 ? ['dockyard', 'distribution'] : ['distribution', 'dockyard'];
      for (const kind of order) ms.push(...(await runBigImage(kind, round, big)));
      for (const kind of order) ms.push(await runSmallImages(kind, round, small, 1));
      for (const kind of order) ms.push(await runSmallImages(kind, round, small, PUSH_CLIENTS));
    }
  } finally {
    await removeTempDir(layoutDir);
    await removeKeptDirs();
    disarm();
  }
  const summary = report(ms, limits, facts);
  const json = await writeResultsJson('images', { facts, limits, rows: summary.rows, pushCeiling: summary.pushCeiling, pushOfCeiling: summary.pushOfCeiling, measurements: ms });
  process.stderr.write(`wrote ${json}\n`);
}

runMain('images', main, removeAllTempDirs);
