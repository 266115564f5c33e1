/**
 * Request rates with token auth on: manifest HEAD and GET by tag, Dockyard against CNCF
 * Distribution 2.8.2, every request carrying one Bearer token the bench signed itself.
 *
 *   npx tsx bench/auth-requests.ts
 *
 * Knobs: BENCH_ROUNDS (3), BENCH_DURATION_S (8), BENCH_CONCURRENCY (32), BENCH_AUTH_X5C (1: the
 * certificate rides in the token's header; 0: only its kid). Results: the table on stdout, the
 * section in BENCHMARKS.md, JSON in .bench/auth-requests.json.
 */
import * as os from 'node:os';
import { machineFacts, writeResultsJson } from './lib/machine.ts';
import { guardRun, runMain } from './lib/processes.ts';
import { buildDockyard } from './lib/registries.ts';
import type { ServerKind } from './requests/settings.ts';
import { summarize, writeSection } from './auth/report.ts';
import { runAuthRows, type AuthMeasurement } from './auth/run.ts';
import { OVERALL_TIMEOUT_MS, REPO, ROUNDS, X5C } from './auth/settings.ts';
import { makeSigner } from './auth/signer.ts';

const LOAD_AT_START = os.loadavg();

async function main(): Promise<void> {
  buildDockyard();
  const disarm = guardRun(OVERALL_TIMEOUT_MS, async () => {
    process.stderr.write(`auth-requests: overall timeout of ${OVERALL_TIMEOUT_MS / 1000} s reached\n`);
  });
  const signer = await makeSigner();
  const ms: AuthMeasurement[] = [];
  try {
    const token = await signer.sign(REPO, ['pull', 'push']);
    process.stderr.write(`token: ${token.length} characters, kid ${signer.kid}${X5C ? ', x5c' : ''}\n`);
    for (let round = 1; round <= ROUNDS; round++) {
      const order: ServerKind[] = round % 2 === 1 ? ['dockyard', 'distribution'] : ['distribution', 'dockyard'];
      for (const kind of order) ms.push(...(await runAuthRows(kind, round, signer, token)));
    }
  } finally {
    await signer.dispose();
    disarm();
  }
  const summary = summarize(ms);
  process.stdout.write(`${summary.table}\n`);
  const file = writeSection(summary, LOAD_AT_START);
  const json = await writeResultsJson('auth-requests', { date: new Date().toISOString(), machine: machineFacts(), loadAtStart: LOAD_AT_START, x5c: X5C, rows: summary.rows, measurements: ms });
  process.stderr.write(`wrote ${file} and ${json}\n`);
}

runMain('auth-requests', main);
