/**
 * A HEAD load generator, run as its own process by load.ts:
 *   node --import tsx bench/requests/head-load.ts <url> <concurrency> <seconds> <headers-json>
 * `concurrency` keep-alive connections over raw sockets, one request in flight on each, for
 * `seconds`; prints one JSON line {requests, rps, p99Ms, errors}. Raw sockets because undici
 * closes the connection after every HEAD (its guard against a body it cannot delimit), which
 * would measure connection set-up, and node:http's client costs more CPU than the servers'.
 * A HEAD reply has no body, so the blank line after the headers ends each response.
 */
import * as net from 'node:net';
import { percentile } from '../lib/stats.ts';

const [url = '', conc = '32', secs = '8', headersJson = '{}'] = process.argv.slice(2);
const u = new URL(url);
const headers = JSON.parse(headersJson) as Record<string, string>;
const request = Buffer.from(
  [`HEAD ${u.pathname}${u.search} HTTP/1.1`, `Host: ${u.host}`, ...Object.entries(headers).map(([k, v]) => `${k}: ${v}`), '', ''].join('\r\n'),
);
const latencies: number[] = [];
let errors = 0;
const nowMs = () => Number(process.hrtime.bigint()) / 1e6;
const start = nowMs();
const until = start + Number(secs) * 1000;

function connection(): Promise<void> {
  return new Promise((resolve) => {
    const socket = net.connect(Number(u.port), u.hostname);
    socket.setNoDelay(true);
    let buf = '';
    let sent = 0;
    const send = () => {
      if (nowMs() >= until) return void socket.end(resolve);
      sent = nowMs();
      socket.write(request);
    };
    socket.on('connect', send);
    socket.on('data', (d: Buffer) => {
      buf += d.toString('latin1');
      for (let end = buf.indexOf('\r\n\r\n'); end !== -1; end = buf.indexOf('\r\n\r\n')) {
        const status = Number(buf.slice(9, 12));
        buf = buf.slice(end + 4);
        latencies.push(nowMs() - sent);
        if (status < 200 || status > 299) errors++;
        send();
      }
    });
    socket.on('error', () => {
      errors++;
      resolve();
    });
    socket.on('close', () => resolve());
    socket.setTimeout(5000, () => socket.destroy());
  });
}

await Promise.all(Array.from({ length: Number(conc) }, () => connection()));
const elapsedS = (nowMs() - start) / 1000;
latencies.sort((a, b) => a - b);
const out = { requests: latencies.length, rps: latencies.length / elapsedS, p99Ms: percentile(latencies, 99), errors };
process.stdout.write(`${JSON.stringify(out)}\n`);
