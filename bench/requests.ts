/**
 * Request rates: manifest HEAD/GET by tag and blob GET, Dockyard against CNCF Distribution 2.8.2,
 * with pull notifications off and with one webhook, and the bare node:http ceiling.
 *
 *   npm run bench:requests        (= npx tsx bench/requests.ts)
 *
 * Each round runs, in alternation (order flipped each round): the ceiling server, then each
 * registry without a webhook (HEAD, GET, blob GET), then each with one (HEAD, GET). Every server
 * is a fresh child process on a loopback port with its own empty root and a seeded image.
 * Results: the table on stdout, the section in BENCHMARKS.md, JSON in .bench/requests.json.
 * Knobs: BENCH_ROUNDS (3), BENCH_DURATION_S (8), BENCH_CONCURRENCY (32), BENCH_WRK_THREADS (2).
 */
import { readFileSync } from 'node:fs';
import * as os from 'node:os';
import { machineFacts, writeResultsJson } from './lib/machine.ts';
import { guardRun, runMain } from './lib/processes.ts';
import { buildDockyard } from './lib/registries.ts';
import { startReceiver } from './requests/receiver.ts';
import { summarize, writeSection } from './requests/report.ts';
import { runLimit, runRegistry, type Measurement } from './requests/run.ts';
import { OVERALL_TIMEOUT_MS, ROUNDS, ROWS, type ServerKind } from './requests/settings.ts';

const LOAD_AT_START = os.loadavg();

/** BENCH_REPORT_FROM=.bench/requests.json: re-render the table and the section from a saved run, measuring nothing. */
async function rerender(file: string): Promise<void> {
  const saved = JSON.parse(readFileSync(file, 'utf8')) as { date: string; loadAtStart: number[]; measurements: Measurement[] };
  const summary = summarize(saved.measurements);
  process.stdout.write(`${summary.table}\n`);
  process.stderr.write(`wrote ${writeSection(summary, saved.loadAtStart, saved.date)}\n`);
}

async function main(): Promise<void> {
  const from = process.env.BENCH_REPORT_FROM;
  if (from) return rerender(from);
  buildDockyard();
  const disarm = guardRun(OVERALL_TIMEOUT_MS, async () => {
    process.stderr.write(`requests: overall timeout of ${OVERALL_TIMEOUT_MS / 1000} s reached\n`);
  });
  const receiver = await startReceiver();
  const ms: Measurement[] = [];
  try {
    for (let round = 1; round <= ROUNDS; round++) {
      const order: ServerKind[] = round % 2 === 1 ? ['dockyard', 'distribution'] : ['distribution', 'dockyard'];
      ms.push(...(await runLimit(round, receiver)));
      for (const notify of [false, true]) {
        const rows = ROWS.filter((r) => r.notify === notify);
        for (const kind of order) ms.push(...(await runRegistry(kind, round, rows, receiver)));
      }
    }
  } finally {
    await receiver.close();
    disarm();
  }
  const summary = summarize(ms);
  process.stdout.write(`${summary.table}\n`);
  const file = writeSection(summary, LOAD_AT_START);
  const json = await writeResultsJson('requests', { date: new Date().toISOString(), machine: machineFacts(), loadAtStart: LOAD_AT_START, rows: summary.rows, limit: summary.limit, measurements: ms });
  process.stderr.write(`wrote ${file} and ${json}\n`);
}

runMain('requests', main);
