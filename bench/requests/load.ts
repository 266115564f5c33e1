/**
 * The load generators, each a separate process bounded in time: Debian's `wrk` for GET, and for
 * HEAD a small Node generator (bench/requests/head-load.ts), because wrk 4.1 waits for a body
 * after a HEAD reply that carries Content-Length and so completes no request at all (FIELD-NOTES).
 */
import { execFile } from 'node:child_process';
import * as path from 'node:path';
import { ROOT } from '../lib/env.ts';
import { CONCURRENCY, DURATION_S, LOAD_GRACE_MS, WRK_THREADS } from './settings.ts';

export interface LoadResult {
  generator: 'wrk' | 'node';
  requests: number;
  rps: number;
  p99Ms: number;
  /** Non-2xx replies plus socket errors: a row with any is suspect, and the report says so. */
  errors: number;
}

function run(cmd: string, args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(cmd, args, { cwd: ROOT, timeout: DURATION_S * 1000 + LOAD_GRACE_MS, killSignal: 'SIGKILL', maxBuffer: 1 << 20 }, (err, stdout, stderr) => {
      if (err) reject(new Error(`${path.basename(cmd)} failed: ${err.message}\n${stderr}`));
      else resolve(stdout);
    });
  });
}

/** wrk's latency figures carry a unit (us, ms, s). */
function toMs(value: string, unit: string): number {
  const n = Number(value);
  return unit === 'us' ? n / 1000 : unit === 's' ? n * 1000 : unit === 'm' ? n * 60_000 : n;
}

export function parseWrk(out: string): LoadResult {
  const rps = /Requests\/sec:\s+([\d.]+)/.exec(out);
  const total = /(\d+) requests in/.exec(out);
  const p99 = /^\s*99%\s+([\d.]+)(us|ms|s|m)\s*$/m.exec(out);
  if (!rps?.[1] || !total?.[1] || !p99?.[1] || !p99[2]) throw new Error(`unexpected wrk output:\n${out}`);
  const non2xx = Number(/Non-2xx or 3xx responses:\s+(\d+)/.exec(out)?.[1] ?? 0);
  const sock = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(out);
  const sockErrors = sock ? sock.slice(1).reduce((a, b) => a + Number(b), 0) : 0;
  return { generator: 'wrk', requests: Number(total[1]), rps: Number(rps[1]), p99Ms: toMs(p99[1], p99[2]), errors: non2xx + sockErrors };
}

export async function wrkGet(url: string, headers: Record<string, string>): Promise<LoadResult> {
  const h = Object.entries(headers).flatMap(([k, v]) => ['-H', `${k}: ${v}`]);
  const args = ['-t', String(WRK_THREADS), '-c', String(CONCURRENCY), '-d', `${DURATION_S}s`, '--timeout', '5s', '--latency', ...h, url];
  return parseWrk(await run('wrk', args));
}

export async function nodeHead(url: string, headers: Record<string, string>): Promise<LoadResult> {
  const script = path.join(ROOT, 'bench', 'requests', 'head-load.ts');
  const out = await run(process.execPath, ['--import', 'tsx', script, url, String(CONCURRENCY), String(DURATION_S), JSON.stringify(headers)]);
  const r = JSON.parse(out) as Omit<LoadResult, 'generator'>;
  return { generator: 'node', ...r };
}

export function loadFor(method: 'GET' | 'HEAD'): (url: string, headers: Record<string, string>) => Promise<LoadResult> {
  return method === 'HEAD' ? nodeHead : wrkGet;
}
