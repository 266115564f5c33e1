/** The load run's tables (per server, per operation) and its BENCHMARKS.md section. */
import { machineFacts } from '../lib/machine.ts';
import { median, r1, r2 } from '../lib/stats.ts';
import { LABEL, type ServerKind } from '../requests/settings.ts';
import { OP_KINDS } from './events.ts';
import type { LoadRun } from './run.ts';
import { putSection } from '../lib/section.ts';
import { CLIENTS, EVENT_WAIT_S, HEAD_EVERY, LAYER_BYTES, LOAD_S, MAX_CYCLES, REPOS, ROUNDS } from './settings.ts';

export const SECTION = '## Push and pull under load, webhook on';

function serverTable(runs: LoadRun[]): string {
  const rows = runs.map((r) => {
    const ev = (k: 'manifest' | 'blob') => `${r.events[k].received} / ${r.events[k].owed}`;
    return `| ${LABEL[r.server]} | ${r.round} | ${r.cycles} | ${r.opsPerS} | ${r.serverErrors} | ${r.clientErrors} | ${r.wrongContent} | ${r.peakRssMiB} / ${r.rssAfterMiB} | ${ev('manifest')} | ${ev('blob')} | ${r.missing} / ${r.unexpected} | ${r.duplicates} | ${r.lastEventAfterS ?? '-'} |`;
  });
  return [
    '| Server | Round | Cycles | Ops/s (all) | Server errors | Client errors | Wrong content | RSS MiB peak / after | Manifest events received / owed | Blob events received / owed | Missing / unexpected | Duplicates | Last event, s after load |',
    '|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|',
    ...rows,
  ].join('\n');
}

function opTable(runs: LoadRun[]): string {
  const cell = (server: ServerKind, op: (typeof OP_KINDS)[number]) => {
    const mine = runs.filter((r) => r.server === server).map((r) => r.perOp[op]);
    return `${Math.round(median(mine.map((o) => o.perS)))} | ${r2(median(mine.map((o) => o.p50Ms)))} | ${r2(median(mine.map((o) => o.p99Ms)))}`;
  };
  return [
    '| Operation | Dockyard ops/s | p50 ms | p99 ms | Distribution ops/s | p50 ms | p99 ms |',
    '|---|---:|---:|---:|---:|---:|---:|',
    ...OP_KINDS.map((op) => `| ${op} | ${cell('dockyard', op)} | ${cell('distribution', op)} |`),
  ].join('\n');
}

export function tables(runs: LoadRun[]): string {
  return `${serverTable(runs)}\n\n${opTable(runs)}`;
}

function errorLines(runs: LoadRun[]): string[] {
  return runs.flatMap((r) =>
    r.errorSamples.map((e) => `- ${LABEL[r.server]}, round ${r.round}, ${e.atS} s in, ${e.op}: ${e.class} error, ${e.status ?? 'transport error'}: \`${e.detail.replace(/`/g, "'")}\``),
  );
}

function reading(runs: LoadRun[]): string {
  const of = (s: ServerKind) => runs.filter((r) => r.server === s);
  const d = of('dockyard');
  const verdict = (ok: boolean) => (ok ? 'met' : 'not met');
  const serverErrors = d.reduce((a, r) => a + r.serverErrors, 0);
  const delivered = d.every((r) => r.allDelivered && r.duplicates === 0);
  const peak = Math.max(...d.map((r) => r.peakRssMiB));
  const ratio = (a: number, b: number) => (b > 0 ? `${r2(a / b)}x` : 'n/a');
  const dOps = median(d.map((r) => r.opsPerS));
  const xOps = median(of('distribution').map((r) => r.opsPerS));
  return [
    `Dockyard: zero server errors is ${verdict(serverErrors === 0)} (${serverErrors});`,
    `every owed event delivered once is ${verdict(delivered)};`,
    `its peak RSS was ${peak} MiB. Throughput, all operations: ${ratio(dOps, xOps)} Distribution's.`,
    'An event is owed for each blob PUT (201), manifest PUT (201), manifest GET (200) and layer GET (200), and on',
    "Distribution also for each HEAD (200): Dockyard's endpoints drop HEAD pulls unless `includehead` is set.",
    '"Missing" counts owed events that never arrived within the wait, "unexpected" events that arrived with nothing',
    'owing them (by action, method, target kind, repository and digest); duplicates are event ids seen twice.',
    'The clients and the receiver share the 2 cores with the server, so operations/s are a comparison, not a capacity.',
  ].join(' ');
}

export function writeSection(runs: LoadRun[], loadAtStart: number[], date = new Date().toISOString()): string {
  const m = machineFacts();
  const errors = errorLines(runs);
  const body = [
    'Command (from the repository root):',
    '',
    '```',
    'npx tsx bench/load.ts   # knobs: BENCH_LOAD_CLIENTS, BENCH_LOAD_S, BENCH_ROUNDS',
    '```',
    '',
    `Date: ${date}. Machine: ${m.nproc} cores (${m.cpu}), ${r1(m.memTotalBytes / 2 ** 30)} GiB memory, kernel ${m.kernel};`,
    `node ${m.node}; Distribution: ${m.distribution}. 1-minute load average at start: ${loadAtStart[0]?.toFixed(2)}.`,
    '',
    `What it does: ${CLIENTS} concurrent clients for ${LOAD_S} s against each server in turn (${ROUNDS} round${ROUNDS > 1 ? 's, order flipped each round' : ''}),`,
    'each server a fresh process on its own empty root with the same config shape and one webhook endpoint to a',
    'node:http receiver in a worker thread that answers 200 at once. Each client loops (at most',
    `${MAX_CYCLES} cycles): push a distinct image (a ${LAYER_BYTES}-byte random layer and a config, each by POST upload then`,
    `PUT ?digest=, and an OCI manifest by tag) into one of ${REPOS} repositories, pull it back (manifest GET by tag, layer`,
    `GET with its sha256 checked), and on one cycle in ${HEAD_EVERY} HEAD the manifest and the layer, over one keep-alive`,
    'undici Pool. Server errors: 5xx and transport errors; client errors: any other unexpected status. RSS: VmRSS every',
    `100 ms during the load and the event wait, and once after. After the load the bench waits up to ${EVENT_WAIT_S} s for every owed event.`,
    '',
    tables(runs),
    '',
    ...(errors.length ? ['Errors seen (first of each run):', '', ...errors, ''] : []),
    reading(runs),
  ].join('\n');
  return putSection(SECTION, body);
}

