/**
 * A HEAD load generator, run as its own process by load.ts:
 *   node --import tsx bench/requests/head-load.ts <url> <concurrency> <seconds> <headers-json>
 * `concurrency` keep-alive connections, each with one request in flight, for `seconds`; prints
 * one JSON line {requests, rps, p99Ms, errors}. undici (a dependency already) keeps it lean.
 */
import { Pool } from 'undici';
import { percentile } from '../lib/stats.ts';

const [url = '', conc = '32', secs = '8', headersJson = '{}'] = process.argv.slice(2);
const u = new URL(url);
const concurrency = Number(conc);
const headers = JSON.parse(headersJson) as Record<string, string>;
const pool = new Pool(u.origin, { connections: concurrency, pipelining: 1, keepAliveTimeout: 60_000 });
const latencies: number[] = [];
let errors = 0;
const nowMs = () => Number(process.hrtime.bigint()) / 1e6;

async function worker(until: number): Promise<void> {
  while (nowMs() < until) {
    const t = nowMs();
    try {
      const res = await pool.request({ path: u.pathname + u.search, method: 'HEAD', headers, headersTimeout: 5000 });
      await res.body.dump();
      if (res.statusCode < 200 || res.statusCode > 299) errors++;
    } catch {
      errors++;
      continue;
    }
    latencies.push(nowMs() - t);
  }
}

const start = nowMs();
await Promise.all(Array.from({ length: concurrency }, () => worker(start + Number(secs) * 1000)));
const elapsedS = (nowMs() - start) / 1000;
await pool.close();
latencies.sort((a, b) => a - b);
const out = { requests: latencies.length, rps: latencies.length / elapsedS, p99Ms: percentile(latencies, 99), errors };
process.stdout.write(`${JSON.stringify(out)}\n`);
