/**
 * The notification endpoint: a node:http server on 127.0.0.1 in a worker thread (its own event
 * loop), answering 200 as soon as a POST's body has arrived, then counting the manifest push
 * events (action `push`, a manifest media type) whose repository starts with the current phase's
 * prefix, each event id once. Counters live in shared memory, so the main thread polls them
 * without a message round trip.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { Worker } from 'node:worker_threads';

/** Float64 slots of the shared counter array. */
export const S = {
  matched: 0, // manifest push events of the phase's repositories (distinct ids)
  duplicates: 1, // matched events whose id had been seen already in this phase
  lastMs: 2, // receive time (CLOCK_MONOTONIC, ms) of the latest POST with a matched event
  posts: 3, // POSTs received, all time
  events: 4, // events received, all time
  manifestPushes: 5, // manifest push events, all repositories, all time
  badBodies: 6, // POSTs whose body was not a JSON envelope
  length: 7,
} as const;

const RECEIVER_WORKER = `
const { workerData, parentPort } = require('node:worker_threads');
const http = require('node:http');
const s = new Float64Array(workerData.buf);
const S = workerData.slots;
let prefix = null;
let ids = new Set();
const nowMs = () => Number(process.hrtime.bigint()) / 1e6;
const server = http.createServer({ keepAliveTimeout: 120000, requestTimeout: 0 }, (req, res) => {
  const chunks = [];
  req.on('data', (c) => chunks.push(c));
  req.on('end', () => {
    const t = nowMs();
    s[S.posts]++;
    res.writeHead(200, { 'content-length': '0' });
    res.end();
    let events;
    try {
      const body = JSON.parse(Buffer.concat(chunks).toString('utf8'));
      events = Array.isArray(body && body.events) ? body.events : null;
    } catch { events = null; }
    if (!events) { s[S.badBodies]++; return; }
    s[S.events] += events.length;
    for (const e of events) {
      const target = (e && e.target) || {};
      if (e.action !== 'push' || typeof target.mediaType !== 'string' || !/manifest/.test(target.mediaType)) continue;
      s[S.manifestPushes]++;
      if (prefix === null || typeof target.repository !== 'string' || !target.repository.startsWith(prefix)) continue;
      if (ids.has(e.id)) { s[S.duplicates]++; continue; }
      ids.add(e.id);
      s[S.matched]++;
      s[S.lastMs] = t;
    }
  });
});
parentPort.on('message', (m) => {
  if (m.type === 'phase') {
    prefix = m.prefix;
    ids = new Set();
    for (const k of [S.matched, S.duplicates, S.lastMs]) s[k] = 0;
    parentPort.postMessage({ seq: m.seq });
  } else if (m.type === 'close') {
    server.closeAllConnections();
    server.close(() => parentPort.postMessage({ seq: m.seq }));
  }
});
server.listen(0, '127.0.0.1', () => parentPort.postMessage({ listening: server.address().port }));
`;

export class Receiver {
  private seq = 0;
  private readonly waiting = new Map<number, () => void>();
  private constructor(
    readonly port: number,
    private readonly worker: Worker,
    private readonly counters: Float64Array,
  ) {
    worker.on('message', (m: { seq?: number }) => {
      if (typeof m.seq === 'number') {
        this.waiting.get(m.seq)?.();
        this.waiting.delete(m.seq);
      }
    });
  }

  static async start(): Promise<Receiver> {
    const counters = new Float64Array(new SharedArrayBuffer(8 * S.length));
    const worker = new Worker(RECEIVER_WORKER, { eval: true, workerData: { buf: counters.buffer, slots: S } });
    const port = await new Promise<number>((resolve, reject) => {
      worker.once('error', reject);
      worker.once('message', (m: { listening?: number }) => (m.listening ? resolve(m.listening) : reject(new Error('receiver did not start'))));
    });
    return new Receiver(port, worker, counters);
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}/events`;
  }

  get(slot: number): number {
    return this.counters[slot] ?? 0;
  }

  private ask(msg: Record<string, unknown>): Promise<void> {
    const seq = ++this.seq;
    return new Promise((resolve) => {
      this.waiting.set(seq, resolve);
      this.worker.postMessage({ ...msg, seq });
    });
  }

  /** Counts afresh: the manifest push events of repositories starting with `prefix`. */
  async phase(prefix: string): Promise<void> {
    await this.ask({ type: 'phase', prefix });
  }

  /** Waits (polling every 2 ms) until the phase has `want` events or `timeoutMs` passes; returns whether it got them. */
  async waitFor(want: number, timeoutMs: number): Promise<boolean> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      if (this.get(S.matched) >= want) return true;
      await sleep(2);
    }
    return this.get(S.matched) >= want;
  }

  async close(): Promise<void> {
    await Promise.race([this.ask({ type: 'close' }), sleep(5000)]);
    await this.worker.terminate();
  }
}
