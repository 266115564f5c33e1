/** The fsync benchmark's summary: medians per server, the two ratios, the Markdown table and the JSON. */
import * as os from 'node:os';
import { benchTmpDir, ROOT } from '../lib/env.ts';
import { fsyncProbeMs, machineFacts, sh } from '../lib/machine.ts';
import { median, r1, r2 } from '../lib/stats.ts';
import type { RunResult } from './run.ts';
import { BIG_BLOB_MIB, CONCURRENCY, IMAGES, KINDS, LABEL, LAYER_BYTES, ROUNDS, type ServerKind } from './settings.ts';

const METRICS = [
  { key: 'seq', label: `(a) ${IMAGES} small images in sequence (images/s)`, get: (r: RunResult) => r.sequential.imagesPerSecond },
  { key: 'conc', label: `(b) ${IMAGES} small images, ${CONCURRENCY} concurrent clients (images/s)`, get: (r: RunResult) => r.concurrent.imagesPerSecond },
  { key: 'big', label: `(c) one ${BIG_BLOB_MIB} MiB blob (MB/s)`, get: (r: RunResult) => r.bigBlob.MBps },
  { key: 'seqMs', label: '(a) per image, p50 (ms)', get: (r: RunResult) => r.sequential.msPerImageP50 },
  { key: 'seqCpu', label: '(a) server CPU per image (ms)', get: (r: RunResult) => (r.sequential.serverCpuSeconds * 1000) / r.sequential.images },
  { key: 'concCpu', label: '(b) server CPU per image (ms)', get: (r: RunResult) => (r.concurrent.serverCpuSeconds * 1000) / r.concurrent.images },
] as const;

export function summarize(runs: RunResult[], loadAtStart: number[], dockyardEntry: string): { table: string; result: unknown } {
  const med: Record<string, Record<ServerKind, number>> = {};
  for (const m of METRICS) {
    med[m.key] = Object.fromEntries(KINDS.map((k) => [k, median(runs.filter((r) => r.server === k).map(m.get))])) as Record<ServerKind, number>;
  }
  const fmt = (n: number) => (n >= 100 ? r1(n).toLocaleString('en-US') : String(r2(n)));
  const rows = METRICS.map((m) => {
    const v = med[m.key] as Record<ServerKind, number>;
    return `| ${m.label} | ${fmt(v['dockyard-fsync'])} | ${fmt(v['dockyard-nofsync'])} | ${fmt(v.distribution)} | ${r2(v['dockyard-fsync'] / v['dockyard-nofsync'])} | ${r2(v['dockyard-fsync'] / v.distribution)} |`;
  });
  const loadEnd = os.loadavg();
  const table = [
    `Push throughput, median of ${ROUNDS} runs per server (rotated order), loopback:`,
    '',
    `| | ${LABEL['dockyard-fsync']} | ${LABEL['dockyard-nofsync']} | ${LABEL.distribution} | on ÷ off | on ÷ Distribution |`,
    '|---|---:|---:|---:|---:|---:|',
    ...rows,
    '',
    `Load average at start ${loadAtStart.map((x) => x.toFixed(2)).join(' ')}, at end ${loadEnd.map((x) => x.toFixed(2)).join(' ')}.`,
  ].join('\n');
  const result = {
    benchmark: 'fsync-cost',
    date: new Date().toISOString(),
    command: 'npm run bench:fsync',
    dockyardEntry,
    dockyardCommit: sh('git', ['-C', ROOT, 'describe', '--always', '--dirty', '--abbrev=12']),
    loadAverageAtStart: loadAtStart,
    loadAverageAtEnd: loadEnd,
    settings: { images: IMAGES, layerBytes: LAYER_BYTES, concurrency: CONCURRENCY, bigBlobMiB: BIG_BLOB_MIB, rounds: ROUNDS },
    machine: { ...machineFacts(), disk: sh('df', ['-h', benchTmpDir()]), tmpdir: benchTmpDir(), fdatasync4KiBMedianMs: fsyncProbeMs('fsync-bench-probe-') },
    medians: med,
    ratios: Object.fromEntries(
      METRICS.map((m) => {
        const v = med[m.key] as Record<ServerKind, number>;
        return [m.key, { onOverOff: r2(v['dockyard-fsync'] / v['dockyard-nofsync']), onOverDistribution: r2(v['dockyard-fsync'] / v.distribution) }];
      }),
    ),
    runs,
  };
  return { table, result };
}
