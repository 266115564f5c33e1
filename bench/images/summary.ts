/** Medians per workload and server, ratios, the push's fraction of its ceiling, and the table. */
import { median, r1, r2 } from '../lib/stats.ts';
import type { Limits } from './limits.ts';
import type { Measurement } from './run.ts';
import { WORKLOADS, type ServerKind, type Sizes, type Workload } from './settings.ts';

interface Cell {
  rate: number;
  min: number;
  max: number;
  rssMiB: number;
  maxRssMiB: number;
}

function cell(ms: Measurement[], workload: Workload, server: ServerKind): Cell {
  const mine = ms.filter((m) => m.workload === workload && m.server === server);
  const rates = mine.map((m) => m.rate);
  return {
    rate: r1(median(rates)),
    min: r1(Math.min(...rates)),
    max: r1(Math.max(...rates)),
    rssMiB: r1(median(mine.map((m) => m.peakRssMiB))),
    maxRssMiB: r1(Math.max(...mine.map((m) => m.peakRssMiB))),
  };
}

function titles(z: Sizes): Record<Workload, string> {
  return {
    push: `push, ${z.layers} x ${z.layerMib} MiB image (skopeo, oci: to docker://), MB/s`,
    pull: 'pull of that image (skopeo, docker:// to a fresh dir:), MB/s',
    'small-seq': `${z.smallImages} distinct small images pushed in sequence (1 client), images/s`,
    'small-concurrent': `${z.smallImages} distinct small images pushed by ${z.pushClients} concurrent clients, images/s`,
  };
}

export function summarize(ms: Measurement[], limits: Limits, z: Sizes) {
  const TITLE = titles(z);
  const rows = WORKLOADS.map((workload) => {
    const d = cell(ms, workload, 'dockyard');
    const x = cell(ms, workload, 'distribution');
    return { workload, title: TITLE[workload], d, x, ratio: r2(d.rate / x.rate) };
  });
  const pushCeiling = Math.min(limits.sha256MBps, limits.diskFsyncEndMBps);
  const push = rows.find((r) => r.workload === 'push');
  const ofCeiling = (rate: number) => Math.round((100 * rate) / pushCeiling);
  const pushOfCeiling = { dockyard: ofCeiling(push?.d.rate ?? NaN), distribution: ofCeiling(push?.x.rate ?? NaN) };
  const range = (c: Cell) => `${c.rate} (${c.min}–${c.max})`;
  const table = [
    '| Row | Dockyard (min–max) | Distribution 2.8.2 (min–max) | Ratio D/X | Peak RSS MiB Dockyard / Distribution (median; highest) |',
    '|---|---:|---:|---:|---:|',
    ...rows.map((r) => `| ${r.title} | ${range(r.d)} | ${range(r.x)} | ${r.ratio} | ${r.d.rssMiB} / ${r.x.rssMiB}; ${r.d.maxRssMiB} / ${r.x.maxRssMiB} |`),
    `| Limit: sha256 (node:crypto) over a ${z.hashMib} MiB buffer, MB/s | ${limits.sha256MBps} | | | |`,
    `| Limit: sequential write of ${z.diskMib} MiB to the same disk, no fsync, MB/s | ${limits.diskNoFsyncMBps} | | | |`,
    `| Limit: the same, one fsync at the end, MB/s | ${limits.diskFsyncEndMBps} | | | |`,
    `| Limit: the same, fsync every ${z.diskFsyncEveryMib} MiB, MB/s | ${limits.diskFsyncEvery64MBps} | | | |`,
    `| Push as a fraction of min(sha256, disk with one fsync) = ${pushCeiling} MB/s | ${pushOfCeiling.dockyard}% | ${pushOfCeiling.distribution}% | | |`,
  ].join('\n');
  return { rows, limits, pushCeiling, pushOfCeiling, table, measurements: ms };
}

export type Summary = ReturnType<typeof summarize>;
