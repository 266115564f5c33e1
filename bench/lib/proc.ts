/** Reading a server process's memory and CPU time from /proc. */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';

/** A `<field>: <n> kB` line of /proc/<pid>/status, in KiB; null when unreadable. */
export function procStatusKiB(pid: number, field: 'VmRSS' | 'VmHWM'): number | null {
  try {
    const m = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m?.[1] ? Number(m[1]) : null;
  } catch {
    return null;
  }
}

let clockTicks: number | undefined;

/** Clock ticks per second (the unit of utime/stime in /proc/<pid>/stat); asked once. */
function clkTck(): number {
  if (clockTicks === undefined) {
    try {
      const n = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8', timeout: 5000 }).trim());
      clockTicks = Number.isFinite(n) && n > 0 ? n : 100;
    } catch {
      clockTicks = 100;
    }
  }
  return clockTicks;
}

/** User+system CPU seconds of a process so far (all its threads); NaN when unreadable. */
export function cpuSeconds(pid: number): number {
  const tck = clkTck();
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / tck; // utime, stime (fields 14, 15)
  } catch {
    return NaN;
  }
}
