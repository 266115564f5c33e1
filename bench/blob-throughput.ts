/**
 * Blob push/pull throughput and server memory: Dockyard against CNCF Distribution.
 *
 *   npx tsx bench/blob-throughput.ts        (or: npm run bench:blob)
 *
 * For each server, in alternation (ABBA order per round pair), a fresh child process is started
 * on an ephemeral loopback port with fresh temp storage. One blob (1 GiB by default) is pushed
 * with the spec's flow — POST /v2/<name>/blobs/uploads/ -> 202, one streamed chunked PATCH of the
 * whole body -> 202, PUT <location>?digest=<d> -> 201 — then pulled back with GET, streaming,
 * and its sha256 verified. The server's VmRSS is sampled from /proc every 50 ms.
 * The blob bytes are generated as a stream (a seeded pseudo-random 1 MiB block, varied per
 * MiB); nothing holds the blob in memory.
 *
 * Results: a Markdown table on stdout, JSON in .bench/blob-throughput.json.
 * Knobs (for quick checks; the documented figures use the defaults):
 *   BENCH_BLOB_MIB (default 1024), BENCH_ROUNDS (default 3),
 *   BENCH_DISTRIBUTION_BIN (default /usr/bin/docker-registry),
 *   BENCH_DOCKYARD_ENTRY (default dist/main.js, built first; e.g. a prebuilt .mjs bundle, or src/main.ts under tsx).
 *
 * Layout: bench/blob/ (settings, blob data, HTTP client, RSS sampler, one run, report) and the
 * helpers shared with bench/notifications.ts in bench/lib/.
 */
import * as os from 'node:os';
import * as path from 'node:path';
import { guardRun, runMain } from './lib/processes.ts';
import { writeResultsJson } from './lib/machine.ts';
import { buildDockyard } from './lib/registries.ts';
import { blobDigest } from './blob/data.ts';
import { summarize } from './blob/report.ts';
import { runOne, type RunResult } from './blob/run.ts';
import { BLOB_MIB, DOCKYARD_ENTRY, OVERALL_TIMEOUT_MS, ROUNDS, type ServerKind } from './blob/settings.ts';

const LOAD_AT_START = os.loadavg();

async function main(): Promise<void> {
  if (DOCKYARD_ENTRY === 'dist/main.js') buildDockyard();
  const disarm = guardRun(OVERALL_TIMEOUT_MS, async () => {
    process.stderr.write(`blob-throughput: overall timeout of ${OVERALL_TIMEOUT_MS / 1000} s reached\n`);
  });

  process.stderr.write(`blob-throughput: ${BLOB_MIB} MiB blob, ${ROUNDS} rounds per server; computing digest...\n`);
  const digest = blobDigest();
  process.stderr.write(`  digest ${digest}\n`);

  const runs: RunResult[] = [];
  for (let round = 1; round <= ROUNDS; round++) {
    const order: ServerKind[] = round % 2 === 1 ? ['dockyard', 'distribution'] : ['distribution', 'dockyard'];
    for (const kind of order) {
      const r = await runOne(kind, round, digest);
      runs.push(r);
      process.stderr.write(
        `  round ${round} ${kind.padEnd(12)} push ${r.pushMiBps.toFixed(1)} MiB/s (PUT ${r.putSeconds.toFixed(2)} s)` +
          `  pull ${r.pullMiBps.toFixed(1)} MiB/s  peak RSS ${r.peakRssMiB} MiB (HWM ${r.vmHwmMiB}, idle ${r.idleRssMiB})\n`,
      );
    }
  }
  disarm();

  const { table, result } = summarize(runs, digest, LOAD_AT_START);
  process.stdout.write(`${table}\n`);
  const file = await writeResultsJson('blob-throughput', result);
  process.stderr.write(`wrote ${path.relative(process.cwd(), file) || '.bench/blob-throughput.json'}\n`);
}

runMain('blob-throughput', main);
