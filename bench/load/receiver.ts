/**
 * The webhook endpoint: a node:http server on 127.0.0.1 in a worker thread (its own event loop,
 * so 50 clients in the main thread do not delay its answers), answering 200 as soon as a POST's
 * body has arrived. It counts every event once by key (`<action> <method> <manifest|blob>
 * <repository>@<digest>`, as events.ts builds them) and by class, and counts an id seen before as a
 * duplicate (not counted again). The main thread asks for the counts by message.
 */
import { Worker } from 'node:worker_threads';

export interface Summary {
  posts: number;
  events: number;
  duplicates: number;
  /** POSTs whose body was not a JSON envelope. */
  badBodies: number;
  /** Wall-clock ms (Date.now) of the last event that was not a duplicate; 0 when none. */
  lastEventMs: number;
  byClass: Record<string, number>;
}

const RECEIVER_WORKER = `
const { parentPort } = require('node:worker_threads');
const http = require('node:http');
let st;
const reset = () => { st = { posts: 0, events: 0, duplicates: 0, badBodies: 0, lastEventMs: 0, byClass: {}, keys: new Map(), ids: new Set() }; };
reset();
const kindOf = (mt) => (typeof mt === 'string' && /manifest|image\\.index/.test(mt) ? 'manifest' : 'blob');
const server = http.createServer({ keepAliveTimeout: 120000, requestTimeout: 0 }, (req, res) => {
  const chunks = [];
  req.on('data', (c) => chunks.push(c));
  req.on('end', () => {
    res.writeHead(200, { 'content-length': '0' });
    res.end();
    st.posts++;
    let events;
    try {
      const body = JSON.parse(Buffer.concat(chunks).toString('utf8'));
      events = Array.isArray(body && body.events) ? body.events : null;
    } catch { events = null; }
    if (!events) { st.badBodies++; return; }
    for (const e of events) {
      if (e && e.id !== undefined && st.ids.has(e.id)) { st.duplicates++; continue; }
      if (e && e.id !== undefined) st.ids.add(e.id);
      st.events++;
      st.lastEventMs = Date.now();
      const t = (e && e.target) || {};
      const method = (e && e.request && e.request.method) || '-';
      const cls = (e && e.action) + ' ' + method + ' ' + kindOf(t.mediaType);
      st.byClass[cls] = (st.byClass[cls] || 0) + 1;
      const key = cls + ' ' + t.repository + '@' + t.digest;
      st.keys.set(key, (st.keys.get(key) || 0) + 1);
    }
  });
});
const summary = () => ({ posts: st.posts, events: st.events, duplicates: st.duplicates, badBodies: st.badBodies, lastEventMs: st.lastEventMs, byClass: st.byClass });
parentPort.on('message', (m) => {
  if (m.type === 'reset') { reset(); parentPort.postMessage({ seq: m.seq }); }
  else if (m.type === 'summary') parentPort.postMessage({ seq: m.seq, value: summary() });
  else if (m.type === 'keys') parentPort.postMessage({ seq: m.seq, value: st.keys });
  else if (m.type === 'close') { server.closeAllConnections(); server.close(() => parentPort.postMessage({ seq: m.seq })); }
});
server.listen(0, '127.0.0.1', () => parentPort.postMessage({ listening: server.address().port }));
`;

export class Receiver {
  private seq = 0;
  private readonly waiting = new Map<number, (value: unknown) => void>();

  private constructor(
    readonly url: string,
    private readonly worker: Worker,
  ) {
    worker.on('message', (m: { seq?: number; value?: unknown }) => {
      if (typeof m.seq !== 'number') return;
      this.waiting.get(m.seq)?.(m.value);
      this.waiting.delete(m.seq);
    });
  }

  static async start(): Promise<Receiver> {
    const worker = new Worker(RECEIVER_WORKER, { eval: true });
    const port = await new Promise<number>((resolve, reject) => {
      worker.once('error', reject);
      worker.once('message', (m: { listening?: number }) => (m.listening ? resolve(m.listening) : reject(new Error('receiver did not start'))));
    });
    return new Receiver(`http://127.0.0.1:${port}/events`, worker);
  }

  private ask<T>(type: string): Promise<T> {
    const seq = ++this.seq;
    return new Promise((resolve) => {
      this.waiting.set(seq, (v) => resolve(v as T));
      this.worker.postMessage({ type, seq });
    });
  }

  /** Forgets everything counted (between servers). */
  reset(): Promise<void> {
    return this.ask('reset');
  }

  summary(): Promise<Summary> {
    return this.ask('summary');
  }

  /** Every event key received, with its count. */
  keys(): Promise<Map<string, number>> {
    return this.ask('keys');
  }

  async close(): Promise<void> {
    await Promise.race([this.ask('close'), new Promise((r) => setTimeout(r, 5000))]);
    await this.worker.terminate();
  }
}
