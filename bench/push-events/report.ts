/** The push-events benchmark's summary: medians per configuration, the three ratios, the Markdown table and the JSON. */
import * as os from 'node:os';
import { benchTmpDir, ROOT } from '../lib/env.ts';
import { fsyncProbeMs, machineFacts, sh } from '../lib/machine.ts';
import { median, r1, r2 } from '../lib/stats.ts';
import type { RunResult } from './run.ts';
import type { StraceResult } from './strace.ts';
import { BEFORE_ENTRY, CONCURRENCY, DOCKYARD_ENTRY, EVENTS_WAIT_MS, IMAGES, LABEL, ONLY_KINDS, ROUNDS, type ServerKind } from './settings.ts';

const perImageMs = (cpuSeconds: number, images: number) => (cpuSeconds * 1000) / images;

const METRICS = [
  { key: 'seq', label: `(a) ${IMAGES} small images in sequence (images/s)`, get: (r: RunResult) => r.sequential.imagesPerSecond },
  { key: 'conc', label: `(b) ${IMAGES} small images, ${CONCURRENCY} concurrent clients (images/s)`, get: (r: RunResult) => r.concurrent.imagesPerSecond },
  { key: 'seqMs', label: '(a) time per image, p50 (ms)', get: (r: RunResult) => r.sequential.msPerImageP50 },
  { key: 'seqCpu', label: '(a) server CPU per image, pushes (ms)', get: (r: RunResult) => perImageMs(r.sequential.serverCpuSeconds, r.sequential.images) },
  {
    key: 'seqCpuEv',
    label: '(a) server CPU per image, pushes + events delivered (ms)',
    get: (r: RunResult) => perImageMs(r.sequential.serverCpuWithEventsSeconds, r.sequential.images),
  },
  { key: 'concCpu', label: '(b) server CPU per image, pushes (ms)', get: (r: RunResult) => perImageMs(r.concurrent.serverCpuSeconds, r.concurrent.images) },
  {
    key: 'concCpuEv',
    label: '(b) server CPU per image, pushes + events delivered (ms)',
    get: (r: RunResult) => perImageMs(r.concurrent.serverCpuWithEventsSeconds, r.concurrent.images),
  },
  { key: 'seqLag', label: '(a) last event after last push (ms)', get: (r: RunResult) => r.sequential.events?.lastEventAfterPushMs ?? NaN },
  { key: 'concLag', label: '(b) last event after last push (ms)', get: (r: RunResult) => r.concurrent.events?.lastEventAfterPushMs ?? NaN },
] as const;

const RATIOS = [
  { key: 'eventsCost', label: 'HEAD endpoint ÷ HEAD none', a: 'head-endpoint', b: 'head-none' },
  { key: 'journalVsProbe', label: 'HEAD ÷ b19b7e4', a: 'head-endpoint', b: 'before-endpoint' },
  { key: 'vsDistribution', label: 'HEAD ÷ Distribution', a: 'head-endpoint', b: 'distribution' },
  { key: 'postgresVsSqlite', label: 'PostgreSQL outbox ÷ SQLite outbox', a: 'head-postgres', b: 'head-endpoint' },
] as const;

function eventsCell(runs: RunResult[], phase: 'sequential' | 'concurrent'): string {
  if (runs.length === 0) return '–';
  const evs = runs.map((r) => r[phase].events);
  if (evs.some((e) => e === null)) return 'n/a';
  const received = evs.reduce((s, e) => s + (e?.received ?? 0), 0);
  const expected = evs.reduce((s, e) => s + (e?.expected ?? 0), 0);
  const dups = evs.reduce((s, e) => s + (e?.duplicates ?? 0), 0);
  return `${received}/${expected}${dups ? ` (+${dups} dup)` : ''}`;
}

export function summarize(runs: RunResult[], straces: StraceResult[], loadAtStart: number[], startedAt: Date): { table: string; result: unknown } {
  const kinds = ONLY_KINDS;
  const med: Record<string, Partial<Record<ServerKind, number>>> = {};
  for (const m of METRICS) {
    med[m.key] = Object.fromEntries(kinds.map((k) => [k, median(runs.filter((r) => r.server === k).map(m.get))]));
  }
  const fmt = (n: number | undefined) => (n === undefined || Number.isNaN(n) ? '–' : n >= 100 ? r1(n).toLocaleString('en-US') : String(r2(n)));
  const ratio = (v: Partial<Record<ServerKind, number>>, a: ServerKind, b: ServerKind) => {
    const x = v[a];
    const y = v[b];
    return x === undefined || y === undefined || Number.isNaN(x) || Number.isNaN(y) || y === 0 ? NaN : r2(x / y);
  };
  const isLag = (key: string) => key === 'seqLag' || key === 'concLag';
  const ratioMetrics = METRICS.filter((m) => !isLag(m.key));
  const rows = METRICS.map((m) => {
    const v = med[m.key] ?? {};
    const ratios = !isLag(m.key) ? RATIOS.map((q) => fmt(ratio(v, q.a, q.b))) : RATIOS.map(() => '');
    return `| ${m.label} | ${kinds.map((k) => fmt(v[k])).join(' | ')} | ${ratios.join(' | ')} |`;
  });
  for (const phase of ['sequential', 'concurrent'] as const) {
    rows.push(
      `| (${phase === 'sequential' ? 'a' : 'b'}) manifest push events received / expected (all runs) | ${kinds
        .map((k) => eventsCell(runs.filter((r) => r.server === k), phase))
        .join(' | ')} | ${RATIOS.map(() => '').join(' | ')} |`,
    );
  }
  const loadEnd = os.loadavg();
  const straceLines = straces.map(
    (s) =>
      `- ${LABEL[s.server]}: ${s.fsync} fsync + ${s.fdatasync} fdatasync over ${s.images} sequential pushes = ${r1(s.perImage)} per image` +
      (s.eventsReceived === null ? '' : ` (events received ${s.eventsReceived}/${s.images})`),
  );
  const table = [
    `Push with durable events, median of ${ROUNDS} runs per configuration (rotated order), loopback; events waited for up to ${EVENTS_WAIT_MS / 1000} s after each measurement:`,
    '',
    `| | ${kinds.map((k) => LABEL[k]).join(' | ')} | ${RATIOS.map((q) => q.label).join(' | ')} |`,
    `|---|${kinds.map(() => '---:').join('|')}|${RATIOS.map(() => '---:').join('|')}|`,
    ...rows,
    '',
    ...(straceLines.length ? ['`strace -f -c -e trace=fsync,fdatasync` (one run each, after the rounds):', ...straceLines, ''] : []),
    `Load average at start ${loadAtStart.map((x) => x.toFixed(2)).join(' ')}, at end ${loadEnd.map((x) => x.toFixed(2)).join(' ')}.`,
  ].join('\n');
  const describe = (dir: string) => sh('git', ['-C', dir, 'describe', '--always', '--dirty', '--abbrev=12']);
  const dirOfEntry = (entry: string) => entry.replace(/\/dist\/main\.js$|\/src\/main\.ts$/, '');
  const result = {
    benchmark: 'push-events',
    startedAt: startedAt.toISOString(),
    finishedAt: new Date().toISOString(),
    command: 'npm run bench:push-events',
    benchTreeCommit: describe(ROOT),
    dockyardEntry: DOCKYARD_ENTRY,
    dockyardCommit: describe(dirOfEntry(DOCKYARD_ENTRY)),
    beforeEntry: BEFORE_ENTRY,
    beforeCommit: describe(dirOfEntry(BEFORE_ENTRY)),
    loadAverageAtStart: loadAtStart,
    loadAverageAtEnd: loadEnd,
    settings: { images: IMAGES, concurrency: CONCURRENCY, rounds: ROUNDS, eventsWaitMs: EVENTS_WAIT_MS, kinds },
    machine: { ...machineFacts(), disk: sh('df', ['-h', benchTmpDir()]), tmpdir: benchTmpDir(), fdatasync4KiBMedianMs: fsyncProbeMs('push-events-probe-') },
    medians: med,
    ratios: Object.fromEntries(RATIOS.map((q) => [q.key, Object.fromEntries(ratioMetrics.map((m) => [m.key, ratio(med[m.key] ?? {}, q.a, q.b)]))])),
    strace: straces,
    runs,
  };
  return { table, result };
}
