/**
 * Push and pull under load with one webhook: CLIENTS concurrent clients for LOAD_S seconds
 * against Dockyard and then CNCF Distribution 2.8.2 (order flipped each round), counting
 * operations, errors, latency, the server's peak RSS, and whether every owed event reached the
 * receiver (and only once).
 *
 *   npx tsx bench/load.ts
 *
 * Knobs: BENCH_LOAD_CLIENTS (50), BENCH_LOAD_S (60), BENCH_ROUNDS (1), and the rest in
 * bench/load/settings.ts. Results: the tables on stdout, the section in BENCHMARKS.md, JSON in
 * .bench/load.json.
 */
import * as os from 'node:os';
import { machineFacts, writeResultsJson } from './lib/machine.ts';
import { guardRun, runMain } from './lib/processes.ts';
import { buildDockyard } from './lib/registries.ts';
import type { ServerKind } from './requests/settings.ts';
import { Receiver } from './load/receiver.ts';
import { tables, writeSection } from './load/report.ts';
import { runLoad, type LoadRun } from './load/run.ts';
import { OVERALL_TIMEOUT_MS, ROUNDS } from './load/settings.ts';

const LOAD_AT_START = os.loadavg();

async function main(): Promise<void> {
  buildDockyard();
  const disarm = guardRun(OVERALL_TIMEOUT_MS, async () => {
    process.stderr.write(`load: overall timeout of ${OVERALL_TIMEOUT_MS / 1000} s reached\n`);
  });
  const receiver = await Receiver.start();
  const runs: LoadRun[] = [];
  try {
    for (let round = 1; round <= ROUNDS; round++) {
      const order: ServerKind[] = round % 2 === 1 ? ['dockyard', 'distribution'] : ['distribution', 'dockyard'];
      for (const kind of order) runs.push(await runLoad(kind, round, receiver));
    }
  } finally {
    await receiver.close();
    disarm();
  }
  process.stdout.write(`${tables(runs)}\n`);
  const file = writeSection(runs, LOAD_AT_START);
  const json = await writeResultsJson('load', { date: new Date().toISOString(), machine: machineFacts(), loadAtStart: LOAD_AT_START, runs });
  process.stderr.write(`wrote ${file} and ${json}\n`);
}

runMain('load', main);
