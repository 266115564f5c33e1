/**
 * Peak VmRSS of a server while one workload runs, sampled from /proc on a timer. During the
 * small-image rows this process is also the client, so a busy moment can delay a sample.
 */
import { procStatusKiB } from '../lib/proc.ts';
import { RSS_SAMPLE_MS } from './settings.ts';

export async function withPeakRss<T>(pid: number, body: () => Promise<T>): Promise<{ value: T; peakMiB: number }> {
  let peak = 0;
  const sample = () => {
    const kib = procStatusKiB(pid, 'VmRSS');
    if (kib !== null && kib > peak) peak = kib;
  };
  sample();
  const timer = setInterval(sample, RSS_SAMPLE_MS);
  try {
    const value = await body();
    sample();
    return { value, peakMiB: Math.round((peak / 1024) * 10) / 10 };
  } finally {
    clearInterval(timer);
  }
}
