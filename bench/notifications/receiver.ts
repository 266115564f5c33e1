/**
 * The receiver: a node:http server in a worker thread (its own event loop) that answers 200 as
 * soon as a POST's body has arrived, then parses the envelope and counts. Counters live in shared
 * memory so the main thread can poll them without a message round trip.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { Worker } from 'node:worker_threads';
import { nowMs } from './common.ts';

/** Float64 slots of the shared counter array. */
export const S = {
  matched: 0, // pull events for the current phase's repository (first delivery of each id)
  firstMs: 1, // receive time of the first POST that carried a matched event
  lastMs: 2, // receive time of the latest POST that carried a matched event
  posts: 3, // POSTs received, all
  manifestPushes: 4, // manifest push events, all repositories, all time (setup sync)
  events: 5, // events received, all
  maxPerPost: 6, // largest number of events in one POST (current phase)
  duplicates: 7, // matched events whose id had been seen already in this phase
  matchedPosts: 8, // POSTs that carried at least one matched event
  badBodies: 9, // POSTs whose body was not a JSON envelope
  firstPostMatched: 10, // matched events in the first POST that carried any
  rejectedPosts: 11, // POSTs answered 503 (receiver paused), all time
  length: 12,
} as const;

const RECEIVER_WORKER = `
const { workerData, parentPort } = require('node:worker_threads');
const http = require('node:http');
const s = new Float64Array(workerData.buf);
const S = workerData.slots;
let repo = null;
let tagTimes = null;
let ids = new Set();
let paused = false;
const nowMs = () => Number(process.hrtime.bigint()) / 1e6;
const server = http.createServer({ keepAliveTimeout: 120000, requestTimeout: 0 }, (req, res) => {
  const chunks = [];
  req.on('data', (c) => chunks.push(c));
  req.on('end', () => {
    const t = nowMs();
    s[S.posts]++;
    if (paused) {
      res.writeHead(503, { 'content-length': '0', 'retry-after': '1' });
      res.end();
      s[S.rejectedPosts]++;
      return;
    }
    res.writeHead(200, { 'content-length': '0' });
    res.end();
    let events;
    try {
      const body = JSON.parse(Buffer.concat(chunks).toString('utf8'));
      events = Array.isArray(body && body.events) ? body.events : null;
    } catch { events = null; }
    if (!events) { s[S.badBodies]++; return; }
    s[S.events] += events.length;
    let matched = 0;
    for (const e of events) {
      const target = (e && e.target) || {};
      if (e.action === 'push' && typeof target.mediaType === 'string' && /manifest/.test(target.mediaType)) s[S.manifestPushes]++;
      if (e.action !== 'pull' || target.repository !== repo) continue;
      if (ids.has(e.id)) { s[S.duplicates]++; continue; }
      ids.add(e.id);
      matched++;
      if (tagTimes && typeof target.tag === 'string' && !tagTimes.has(target.tag)) tagTimes.set(target.tag, t);
    }
    if (matched > 0) {
      if (s[S.matched] === 0) {
        s[S.firstMs] = t;
        s[S.firstPostMatched] = matched;
      }
      s[S.matched] += matched;
      s[S.lastMs] = t;
      s[S.matchedPosts]++;
      if (matched > s[S.maxPerPost]) s[S.maxPerPost] = matched;
    }
  });
});
parentPort.on('message', (m) => {
  if (m.type === 'phase') {
    repo = m.repo;
    tagTimes = m.tags ? new Map() : null;
    ids = new Set();
    for (const k of [S.matched, S.firstMs, S.lastMs, S.maxPerPost, S.duplicates, S.matchedPosts, S.firstPostMatched]) s[k] = 0;
    parentPort.postMessage({ seq: m.seq });
  } else if (m.type === 'pause') {
    paused = m.paused;
    parentPort.postMessage({ seq: m.seq });
  } else if (m.type === 'tags') {
    parentPort.postMessage({ seq: m.seq, entries: tagTimes ? [...tagTimes] : [] });
  } else if (m.type === 'close') {
    server.closeAllConnections();
    server.close(() => parentPort.postMessage({ seq: m.seq }));
  }
});
server.listen(0, '127.0.0.1', () => parentPort.postMessage({ listening: server.address().port }));
`;

export class Receiver {
  private seq = 0;
  private readonly waiting = new Map<number, (m: Record<string, unknown>) => void>();
  private constructor(
    readonly port: number,
    private readonly worker: Worker,
    private readonly counters: Float64Array,
  ) {
    worker.on('message', (m: Record<string, unknown>) => {
      const seq = m.seq;
      if (typeof seq === 'number') {
        this.waiting.get(seq)?.(m);
        this.waiting.delete(seq);
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

  private ask(msg: Record<string, unknown>): Promise<Record<string, unknown>> {
    const seq = ++this.seq;
    return new Promise((resolve) => {
      this.waiting.set(seq, resolve);
      this.worker.postMessage({ ...msg, seq });
    });
  }

  /** Starts counting pull events of `repo` afresh; `tags`: also keep the receive time per tag. */
  async phase(repo: string, tags = false): Promise<void> {
    await this.ask({ type: 'phase', repo, tags });
  }

  /** Paused: every POST is answered 503 with Retry-After: 1 and not counted. */
  async pause(paused: boolean): Promise<void> {
    await this.ask({ type: 'pause', paused });
  }

  async tagTimes(): Promise<Map<string, number>> {
    const m = await this.ask({ type: 'tags' });
    return new Map(m.entries as [string, number][]);
  }

  /** Waits until `slot` reaches `want` (or the timeout); returns whether it did. */
  async waitFor(slot: number, want: number, timeoutMs: number): Promise<boolean> {
    const deadline = nowMs() + timeoutMs;
    for (let i = 0; i < 10_000_000 && nowMs() < deadline; i++) {
      if (this.get(slot) >= want) return true;
      await sleep(2);
    }
    return this.get(slot) >= want;
  }

  async close(): Promise<void> {
    await Promise.race([this.ask({ type: 'close' }), sleep(5000)]);
    await this.worker.terminate();
  }
}
