/** The blob benchmark's summary: medians per server, ratios, the RSS goal, the table and the JSON. */
import * as os from 'node:os';
import { benchTmpDir, ROOT } from '../lib/env.ts';
import { machineFacts, sh } from '../lib/machine.ts';
import { median, r1, r2 } from '../lib/stats.ts';
import type { RunResult } from './run.ts';
import { BLOB_MIB, DOCKYARD_ENTRY, KINDS, LABEL, MiB, ROUNDS, RSS_GOAL_MB, SAMPLE_MS, type ServerKind } from './settings.ts';

type Medians = { pushMiBps: number; pullMiBps: number; peakRssMiB: number; idleRssMiB: number; putSeconds: number };

export function summarize(runs: RunResult[], digest: string, loadAtStart: number[]): { table: string; result: unknown } {
  const med = Object.fromEntries(
    KINDS.map((k) => {
      const mine = runs.filter((r) => r.server === k);
      return [
        k,
        {
          pushMiBps: r1(median(mine.map((r) => r.pushMiBps))),
          pullMiBps: r1(median(mine.map((r) => r.pullMiBps))),
          peakRssMiB: r1(median(mine.map((r) => r.peakRssMiB))),
          idleRssMiB: r1(median(mine.map((r) => r.idleRssMiB))),
          putSeconds: r2(median(mine.map((r) => r.putSeconds))),
        },
      ];
    }),
  ) as Record<ServerKind, Medians>;
  const ratio = (f: 'pushMiBps' | 'pullMiBps' | 'peakRssMiB' | 'idleRssMiB') => r2(med.dockyard[f] / med.distribution[f]);
  const ratios = { pushMiBps: ratio('pushMiBps'), pullMiBps: ratio('pullMiBps'), peakRssMiB: ratio('peakRssMiB'), idleRssMiB: ratio('idleRssMiB') };
  const toMB = (mib: number) => r1(mib * 1.048576);
  const dockyardPeaks = runs.filter((r) => r.server === 'dockyard').map((r) => r.peakRssMiB);
  const dockyardMedianPeakMB = toMB(med.dockyard.peakRssMiB);
  const dockyardWorstPeakMB = toMB(Math.max(...dockyardPeaks));

  const table = [
    `Blob ${BLOB_MIB} MiB, median of ${ROUNDS} runs per server (alternated):`,
    '',
    '| | Push (MiB/s) | Pull (MiB/s) | Server peak RSS (MiB) | Server idle RSS (MiB) |',
    '|---|---:|---:|---:|---:|',
    ...KINDS.map(
      (k) => `| ${LABEL[k]} | ${med[k].pushMiBps} | ${med[k].pullMiBps} | ${med[k].peakRssMiB} | ${med[k].idleRssMiB} |`,
    ),
    `| Ratio Dockyard/Distribution | ${ratios.pushMiBps} | ${ratios.pullMiBps} | ${ratios.peakRssMiB} | ${ratios.idleRssMiB} |`,
    '',
    `Goal: Dockyard server peak RSS under ${RSS_GOAL_MB} MB (1 MB = 10^6 bytes): median ${dockyardMedianPeakMB} MB ` +
      `(${dockyardMedianPeakMB < RSS_GOAL_MB ? 'met' : 'NOT met'}), highest run ${dockyardWorstPeakMB} MB ` +
      `(${dockyardWorstPeakMB < RSS_GOAL_MB ? 'met' : 'NOT met'}).`,
  ].join('\n');

  const result = {
    benchmark: 'blob-throughput',
    date: new Date().toISOString(),
    command: 'npx tsx bench/blob-throughput.ts',
    dockyardEntry: DOCKYARD_ENTRY,
    dockyardCommit: sh('git', ['-C', ROOT, 'describe', '--always', '--dirty', '--abbrev=12']),
    loadAverageAtStart: loadAtStart,
    loadAverageAtEnd: os.loadavg(),
    blobBytes: BLOB_MIB * MiB,
    digest,
    rounds: ROUNDS,
    sampleIntervalMs: SAMPLE_MS,
    machine: {
      ...machineFacts(),
      disk: sh('df', ['-h', benchTmpDir()]),
      tmpdir: benchTmpDir(),
    },
    medians: med,
    ratiosDockyardOverDistribution: ratios,
    goal: {
      text: `server peak RSS under ${RSS_GOAL_MB} MB`,
      dockyardMedianPeakRssMB: dockyardMedianPeakMB,
      dockyardWorstPeakRssMB: dockyardWorstPeakMB,
      metByMedian: dockyardMedianPeakMB < RSS_GOAL_MB,
      metByEveryRun: dockyardWorstPeakMB < RSS_GOAL_MB,
    },
    runs,
  };
  return { table, result };
}
