/**
 * Peak VmRSS of a server while one workload runs, sampled from /proc every 100 ms. When the bench
 * process is also the client (small-image pushes), a busy moment can delay a sample.
 */
import { procStatusKiB } from './proc.ts';

const RSS_SAMPLE_MS = 100;

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
