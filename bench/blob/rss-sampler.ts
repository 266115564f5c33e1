/** RSS sampling from /proc/<pid>/status, in a worker thread, with peaks kept per phase. */
import { Worker } from 'node:worker_threads';
import { procStatusKiB } from '../lib/proc.ts';
import { SAMPLE_MS } from './settings.ts';

const PHASES = ['startup', 'idle', 'push', 'pull', 'after'] as const;
export type Phase = (typeof PHASES)[number];
// Shared Int32Array layout: [0] current phase index, [1] sample count, [2] largest gap between
// samples (ms), [3 + i] peak VmRSS (KiB) seen during PHASES[i].
const SAMPLER_WORKER = `
const { workerData } = require('node:worker_threads');
const { readFileSync } = require('node:fs');
const a = new Int32Array(workerData.buf);
let last = Date.now();
function sample() {
  const t = Date.now();
  if (t - last > Atomics.load(a, 2)) Atomics.store(a, 2, t - last);
  last = t;
  let kib;
  try {
    const m = /^VmRSS:\\s+(\\d+) kB/m.exec(readFileSync('/proc/' + workerData.pid + '/status', 'utf8'));
    if (!m) return;
    kib = Number(m[1]);
  } catch { return; }
  Atomics.add(a, 1, 1);
  const slot = 3 + Atomics.load(a, 0);
  for (let cur = Atomics.load(a, slot); kib > cur; cur = Atomics.load(a, slot)) {
    if (Atomics.compareExchange(a, slot, cur, kib) === cur) break;
  }
}
sample();
setInterval(sample, workerData.interval);
`;

/**
 * Samples the server's VmRSS every SAMPLE_MS from a worker thread, so the cadence does not
 * depend on this process's (busy) main event loop. Peaks are kept per phase.
 */
export class RssSampler {
  private readonly shared = new Int32Array(new SharedArrayBuffer(4 * (3 + PHASES.length)));
  private readonly worker: Worker;

  constructor(private readonly pid: number) {
    this.worker = new Worker(SAMPLER_WORKER, { eval: true, workerData: { pid, buf: this.shared.buffer, interval: SAMPLE_MS } });
    this.worker.unref();
  }

  /** Switches phase; returns the current VmRSS (KiB) read right now, counted in the new phase. */
  enter(phase: Phase): number | null {
    this.note(procStatusKiB(this.pid, 'VmRSS'));
    Atomics.store(this.shared, 0, PHASES.indexOf(phase));
    const kib = procStatusKiB(this.pid, 'VmRSS');
    this.note(kib);
    return kib;
  }

  private note(kib: number | null): void {
    if (kib === null) return;
    const slot = 3 + Atomics.load(this.shared, 0);
    for (let cur = Atomics.load(this.shared, slot); kib > cur; cur = Atomics.load(this.shared, slot)) {
      if (Atomics.compareExchange(this.shared, slot, cur, kib) === cur) break;
    }
  }

  async stop(): Promise<void> {
    this.note(procStatusKiB(this.pid, 'VmRSS'));
    await this.worker.terminate();
  }

  get peakKiB(): Partial<Record<Phase, number>> {
    const out: Partial<Record<Phase, number>> = {};
    PHASES.forEach((p, i) => {
      const v = this.shared[3 + i] ?? 0;
      if (v > 0) out[p] = v;
    });
    return out;
  }

  get peak(): number {
    return Math.max(0, ...Object.values(this.peakKiB));
  }

  get samples(): number {
    return this.shared[1] ?? 0;
  }

  get maxGapMs(): number {
    return this.shared[2] ?? 0;
  }
}
