/**
 * The cost of durable-before-acknowledged storage: Dockyard's push throughput with
 * `storage.filesystem.fsync: true` (the default) and `false`, beside CNCF Distribution 2.8.2.
 *
 *   npx tsx bench/fsync-cost.ts        (or: npm run bench:fsync)
 *
 * Per round, each of the three servers in turn (order rotated per round, reversed every other
 * round) gets a fresh child process on an ephemeral loopback port with fresh temp storage
 * (removed afterwards), a 5-image warm-up, then three measurements:
 *   (a) IMAGES small images pushed one after another by one client: per image a config blob and
 *       one 4 KiB random layer (each POST -> PUT ?digest= with the body) and an OCI manifest PUT by tag;
 *   (b) the same number of images from CONCURRENCY clients at once, each to its own repository;
 *   (c) one big blob: POST -> one chunked streaming PATCH -> PUT ?digest=, POST to the PUT's 201.
 * Clients use keep-alive connections. The last tag of every repository is read back and checked,
 * and the big blob's length. Dockyard runs as `npm start` runs it (node dist/main.js config.yml).
 *
 * Results: a Markdown table on stdout, JSON in .bench/fsync-cost.json.
 * Knobs: BENCH_FSYNC_IMAGES (200), BENCH_FSYNC_CONCURRENCY (8), BENCH_FSYNC_BLOB_MIB (256),
 *   BENCH_ROUNDS (3), BENCH_DISTRIBUTION_BIN, BENCH_DOCKYARD_ENTRY (dist/main.js, built first).
 */
import * as os from 'node:os';
import * as path from 'node:path';
import { writeResultsJson } from './lib/machine.ts';
import { guardRun, runMain } from './lib/processes.ts';
import { buildDockyard } from './lib/registries.ts';
import { bigBlobDigest } from './fsync/push.ts';
import { summarize } from './fsync/report.ts';
import { runOne, type RunResult } from './fsync/run.ts';
import { BIG_BLOB_MIB, CONCURRENCY, IMAGES, OVERALL_TIMEOUT_MS, ROUNDS, orderFor } from './fsync/settings.ts';

const LOAD_AT_START = os.loadavg();
const DOCKYARD_ENTRY = process.env.BENCH_DOCKYARD_ENTRY ?? 'dist/main.js';

async function main(): Promise<void> {
  if (DOCKYARD_ENTRY === 'dist/main.js') buildDockyard();
  const disarm = guardRun(OVERALL_TIMEOUT_MS, async () => {
    process.stderr.write(`fsync-cost: overall timeout of ${OVERALL_TIMEOUT_MS / 1000} s reached\n`);
  });
  process.stderr.write(
    `fsync-cost: ${IMAGES} images (sequential, then ${CONCURRENCY} clients), one ${BIG_BLOB_MIB} MiB blob; ${ROUNDS} rounds; ` +
      `load average ${LOAD_AT_START.map((x) => x.toFixed(2)).join(' ')}\n`,
  );
  const runs: RunResult[] = [];
  for (let round = 1; round <= ROUNDS; round++) {
    // A blob new to every server and round (the salt), so no push is deduplicated.
    for (const kind of orderFor(round)) {
      const salt = round * 16 + runs.length;
      const big = { salt, digest: bigBlobDigest(BIG_BLOB_MIB, salt) };
      const r = await runOne(kind, round, DOCKYARD_ENTRY, big);
      runs.push(r);
      process.stderr.write(
        `  round ${round} ${kind.padEnd(16)} (a) ${r.sequential.imagesPerSecond.toFixed(1)} img/s` +
          `  (b) ${r.concurrent.imagesPerSecond.toFixed(1)} img/s  (c) ${r.bigBlob.MBps.toFixed(1)} MB/s  load ${os.loadavg()[0]?.toFixed(2)}\n`,
      );
    }
  }
  disarm();
  const { table, result } = summarize(runs, LOAD_AT_START, DOCKYARD_ENTRY);
  process.stdout.write(`${table}\n`);
  const file = await writeResultsJson('fsync-cost', result);
  process.stderr.write(`wrote ${path.relative(process.cwd(), file) || '.bench/fsync-cost.json'}\n`);
}

runMain('fsync-cost', main);
