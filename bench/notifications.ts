/**
 * Webhook notification delivery: Dockyard against CNCF Distribution 2.8.2.
 *
 *   npx tsx bench/notifications.ts        (or: npm run bench:notify)
 *
 * Three server configurations, each a fresh child process on an ephemeral loopback port with
 * fresh temp storage, run one after the other (never concurrently):
 *   dockyard          Dockyard, default delivery (one event per POST)
 *   dockyard-batched  Dockyard with `batch: {maxevents: 500, maxwait: 50ms}`
 *   distribution      /usr/bin/docker-registry (one event per POST, in-memory queue)
 * Each endpoint has `timeout: 1s, threshold: 5, backoff: 1s` and points at a receiver: a
 * node:http server on 127.0.0.1, in a worker thread of this process (its own event loop), that
 * answers 200 as soon as a POST's body has arrived, then parses the envelope and counts.
 *
 * Measurements (manifest GET by tag; the client is undici with keep-alive):
 *   1. latency:  BENCH_LATENCY_OPS sequential pulls, one tag per pull, BENCH_LATENCY_GAP_MS apart;
 *                latency = receiver got the POST carrying that tag's pull event - client read the
 *                end of that pull's response (both process.hrtime, CLOCK_MONOTONIC).
 *   2. burst:    BENCH_BURST_OPS pulls with BENCH_CONCURRENCY in flight; events/s at the receiver
 *                from the first to the last event, and last event after the last response.
 *   3. backlog:  pulls with BENCH_CONCURRENCY in flight for BENCH_SUSTAIN_S seconds; time from the
 *                last response to the last event, and events received against successful pulls.
 *   4. capacity: (diagnostic) the receiver answers 503 + Retry-After: 1 while BENCH_CAPACITY_OPS pulls
 *                run, and 200 again 1 s after them: the whole load is a standing backlog, and events/s
 *                from the first accepted POST to the last is what delivery alone can do, no longer
 *                capped by how fast the registry serves pulls.
 * Before each measurement the server is warmed up with BENCH_WARMUP_OPS pulls, whose events are
 * all received before the measurement starts. Server CPU time comes from /proc/<pid>/stat.
 *
 * Results: a Markdown table on stdout, JSON in .bench/notifications.json (rewritten after every
 * run, so an interrupted benchmark keeps what it measured).
 * Knobs: BENCH_LATENCY_OPS (500), BENCH_LATENCY_GAP_MS (20), BENCH_BURST_OPS (20000),
 *   BENCH_CONCURRENCY (32), BENCH_SUSTAIN_S (30), BENCH_WARMUP_OPS (1000), BENCH_DRAIN_TIMEOUT_S (90),
 *   BENCH_CAPACITY_OPS (10000), BENCH_ONLY (comma list of latency,burst,backlog,capacity), BENCH_CONFIGS (comma list of the three names),
 *   BENCH_DISTRIBUTION_BIN (/usr/bin/docker-registry),
 *   BENCH_DOCKYARD_NODE_ARGS (extra node flags for the Dockyard child, e.g. "--cpu-prof --cpu-prof-dir=/tmp/prof").
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { once } from 'node:events';
import { closeSync, fdatasyncSync, openSync, readdirSync, readFileSync, unlinkSync, writeSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { Pool } from 'undici';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const LATENCY_OPS = intEnv('BENCH_LATENCY_OPS', 500, 10, 10_000);
const LATENCY_GAP_MS = intEnv('BENCH_LATENCY_GAP_MS', 20, 0, 1000);
const BURST_OPS = intEnv('BENCH_BURST_OPS', 20_000, 100, 200_000);
const CONCURRENCY = intEnv('BENCH_CONCURRENCY', 32, 1, 256);
const SUSTAIN_S = intEnv('BENCH_SUSTAIN_S', 30, 1, 120);
const CAPACITY_OPS = intEnv('BENCH_CAPACITY_OPS', 10_000, 100, 200_000);
const WARMUP_OPS = intEnv('BENCH_WARMUP_OPS', 1000, 0, 20_000);
const DRAIN_TIMEOUT_MS = intEnv('BENCH_DRAIN_TIMEOUT_S', 90, 5, 300) * 1000;
const DISTRIBUTION_BIN = process.env.BENCH_DISTRIBUTION_BIN ?? '/usr/bin/docker-registry';
const DOCKYARD_NODE_ARGS = (process.env.BENCH_DOCKYARD_NODE_ARGS ?? '').split(/\s+/).filter(Boolean);
const OVERALL_TIMEOUT_MS = 15 * 60_000;
const READY_TIMEOUT_MS = 30_000;
const STOP_TIMEOUT_MS = 15_000;
const REQUEST_TIMEOUT_MS = 30_000;
/** Upper bound on pulls in the time-bounded run, whatever the rate. */
const SUSTAIN_MAX_OPS = 2_000_000;

const GOALS = { latencyP50Ms: 20, unbatchedEventsPerS: 2_000, batchedEventsPerS: 20_000, backlogS: 2 };

const PHASES = ['latency', 'burst', 'backlog', 'capacity'] as const;
type Phase = (typeof PHASES)[number];
const CONFIGS = ['dockyard', 'dockyard-batched', 'distribution'] as const;
type ConfigKind = (typeof CONFIGS)[number];
const LABEL: Record<ConfigKind, string> = {
  dockyard: 'Dockyard (unbatched)',
  'dockyard-batched': 'Dockyard (batched 500/50ms)',
  distribution: 'Distribution 2.8.2',
};
/** Run order per phase: alternated, so no configuration always goes first (or last). */
const ORDER: Record<Phase, ConfigKind[]> = {
  latency: ['dockyard', 'distribution', 'dockyard-batched'],
  burst: ['dockyard-batched', 'distribution', 'dockyard'],
  backlog: ['dockyard', 'distribution', 'dockyard-batched'],
  capacity: ['distribution', 'dockyard-batched', 'dockyard'],
};

const ONLY_PHASES = listEnv('BENCH_ONLY', PHASES);
const ONLY_CONFIGS = listEnv('BENCH_CONFIGS', CONFIGS);

function intEnv(name: string, def: number, min: number, max: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return def;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < min || n > max) throw new Error(`${name} must be an integer in [${min}, ${max}]`);
  return n;
}

function listEnv<T extends string>(name: string, all: readonly T[]): T[] {
  const raw = process.env[name];
  if (raw === undefined || raw.trim() === '') return [...all];
  const picked = raw.split(',').map((s) => s.trim());
  for (const p of picked) if (!(all as readonly string[]).includes(p)) throw new Error(`${name}: unknown "${p}" (known: ${all.join(', ')})`);
  return all.filter((a) => picked.includes(a));
}

/** Milliseconds on CLOCK_MONOTONIC: the same clock in every thread (and process) of the machine. */
function nowMs(): number {
  return Number(process.hrtime.bigint()) / 1e6;
}

function stamp(): string {
  return new Date().toISOString().slice(11, 19);
}

function log(line: string): void {
  process.stderr.write(`[${stamp()}] ${line}\n`);
}

// ---------------------------------------------------------------------------------------------
// The receiver: a node:http server in a worker thread. Counters live in shared memory so the
// main thread can poll them without a message round trip.

/** Float64 slots of the shared counter array. */
const S = {
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

class Receiver {
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

// ---------------------------------------------------------------------------------------------
// Servers.

const live = new Set<ChildProcess>();
const tempDirs = new Set<string>();

async function freePort(): Promise<number> {
  const srv = net.createServer();
  srv.listen(0, '127.0.0.1');
  await once(srv, 'listening');
  const port = (srv.address() as net.AddressInfo).port;
  srv.close();
  await once(srv, 'close');
  return port;
}

/** The environment without REGISTRY_* (both servers read REGISTRY_* overrides). */
function cleanEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('REGISTRY_')) env[k] = v;
  return env;
}

function configYaml(kind: ConfigKind, addr: string, storage: string, receiverUrl: string): string {
  const lines = [
    'version: 0.1',
    'log:',
    '  level: error',
    ...(kind === 'distribution' ? ['  accesslog:', '    disabled: true'] : []),
    'http:',
    `  addr: ${addr}`,
    'storage:',
    '  filesystem:',
    `    rootdirectory: ${JSON.stringify(storage)}`,
    '  maintenance:',
    '    uploadpurging:',
    '      enabled: false',
    'notifications:',
    '  endpoints:',
    '    - name: bench',
    `      url: ${receiverUrl}`,
    '      timeout: 1s',
    '      threshold: 5',
    '      backoff: 1s',
    ...(kind === 'dockyard-batched' ? ['      batch:', '        maxevents: 500', '        maxwait: 50ms'] : []),
    '',
  ];
  return lines.join('\n');
}

interface Started {
  kind: ConfigKind;
  child: ChildProcess;
  pid: number;
  base: string;
  config: string;
  stderrTail: () => string;
}

async function startServer(kind: ConfigKind, dir: string, receiverUrl: string): Promise<Started> {
  const storage = path.join(dir, 'storage');
  await mkdir(storage, { recursive: true });
  const addr = `127.0.0.1:${await freePort()}`;
  const config = configYaml(kind, addr, storage, receiverUrl);
  const configPath = path.join(dir, 'config.yml');
  await writeFile(configPath, config);
  const child =
    kind === 'distribution'
      ? spawn(DISTRIBUTION_BIN, ['serve', configPath], { cwd: dir, env: cleanEnv(), stdio: ['ignore', 'ignore', 'pipe'] })
      : // node itself (no npm/npx wrapper), so child.pid is the server and child.kill reaches it.
        // The compiled entry `npm start` runs (built at the start of main()).
        spawn(process.execPath, [...DOCKYARD_NODE_ARGS, 'dist/main.js', configPath], {
          cwd: ROOT,
          env: cleanEnv(),
          stdio: ['ignore', 'ignore', 'pipe'],
        });
  live.add(child);
  child.once('exit', () => live.delete(child));
  let tail = '';
  child.stderr?.on('data', (d: Buffer) => {
    tail = (tail + d.toString('utf8')).slice(-4000);
  });
  const pid = child.pid;
  if (pid === undefined) throw new Error(`${kind}: failed to spawn`);
  return { kind, child, pid, base: `http://${addr}`, config, stderrTail: () => tail };
}

async function waitReady(s: Started, pool: Pool): Promise<void> {
  const deadline = Date.now() + READY_TIMEOUT_MS;
  for (let attempt = 0; attempt < 1000 && Date.now() < deadline; attempt++) {
    if (s.child.exitCode !== null || s.child.signalCode !== null) {
      throw new Error(`${s.kind} exited during startup (${s.child.exitCode ?? s.child.signalCode}): ${s.stderrTail()}`);
    }
    try {
      const res = await pool.request({ path: '/v2/', method: 'GET', headersTimeout: 2000, bodyTimeout: 2000 });
      await res.body.dump();
      if (res.statusCode === 200) return;
    } catch {
      // not listening yet
    }
    await sleep(100);
  }
  throw new Error(`${s.kind} not ready within ${READY_TIMEOUT_MS} ms: ${s.stderrTail()}`);
}

async function stopServer(s: Started): Promise<void> {
  if (s.child.exitCode !== null || s.child.signalCode !== null) return;
  const exited = once(s.child, 'exit');
  s.child.kill('SIGTERM');
  const timer = setTimeout(() => s.child.kill('SIGKILL'), STOP_TIMEOUT_MS);
  await exited;
  clearTimeout(timer);
}

const CLK_TCK = (() => {
  try {
    const n = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8', timeout: 5000 }).trim());
    return Number.isFinite(n) && n > 0 ? n : 100;
  } catch {
    return 100;
  }
})();

/** User+system CPU seconds of a process so far (all its threads). */
function cpuSeconds(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / CLK_TCK; // utime, stime (fields 14, 15)
  } catch {
    return NaN;
  }
}

// ---------------------------------------------------------------------------------------------
// Registry client.

const MANIFEST_ACCEPT = [
  'application/vnd.oci.image.manifest.v1+json',
  'application/vnd.docker.distribution.manifest.v2+json',
].join(', ');

interface Content {
  manifest: Buffer;
  blobs: { digest: string; data: Buffer }[];
}

function sha256(data: Buffer): string {
  return `sha256:${createHash('sha256').update(data).digest('hex')}`;
}

function imageContent(): Content {
  const config = Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: [] } }));
  const layer = Buffer.alloc(1024, 7);
  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
      config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: sha256(config), size: config.length },
      layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', digest: sha256(layer), size: layer.length }],
    }),
  );
  return { manifest, blobs: [{ digest: sha256(config), data: config }, { digest: sha256(layer), data: layer }] };
}
const CONTENT = imageContent();

async function expect(pool: Pool, opts: Parameters<Pool['request']>[0], want: number, what: string) {
  const res = await pool.request({ headersTimeout: REQUEST_TIMEOUT_MS, bodyTimeout: REQUEST_TIMEOUT_MS, ...opts });
  const body = await res.body.text();
  if (res.statusCode !== want) throw new Error(`${what}: expected ${want}, got ${res.statusCode}: ${body.slice(0, 300)}`);
  return res;
}

async function pushBlobs(pool: Pool, base: string, repo: string): Promise<void> {
  for (const blob of CONTENT.blobs) {
    const post = await expect(pool, { path: `/v2/${repo}/blobs/uploads/`, method: 'POST', headers: { 'content-length': '0' } }, 202, 'POST upload');
    const loc = post.headers.location;
    if (typeof loc !== 'string') throw new Error('POST upload: no Location');
    const url = new URL(loc, base);
    url.searchParams.set('digest', blob.digest);
    await expect(
      pool,
      { path: `${url.pathname}${url.search}`, method: 'PUT', body: blob.data, headers: { 'content-type': 'application/octet-stream' } },
      201,
      'PUT upload',
    );
  }
}

/** Pushes the image and tags it with every tag in `tags`; waits until the receiver has every manifest push event. */
async function setupRepo(pool: Pool, base: string, receiver: Receiver, repo: string, tags: string[]): Promise<void> {
  await pushBlobs(pool, base, repo);
  const before = receiver.get(S.manifestPushes);
  let next = 0;
  const putOne = async () => {
    for (let i = next++; i < tags.length; i = next++) {
      await expect(
        pool,
        {
          path: `/v2/${repo}/manifests/${tags[i]}`,
          method: 'PUT',
          body: CONTENT.manifest,
          headers: { 'content-type': 'application/vnd.oci.image.manifest.v1+json' },
        },
        201,
        `PUT manifest ${tags[i]}`,
      );
    }
  };
  await Promise.all(Array.from({ length: Math.min(8, tags.length) }, putOne));
  if (!(await receiver.waitFor(S.manifestPushes, before + tags.length, 60_000))) {
    throw new Error(`setup: only ${receiver.get(S.manifestPushes) - before} of ${tags.length} manifest push events arrived`);
  }
}

async function pull(pool: Pool, repo: string, tag: string): Promise<boolean> {
  try {
    const res = await pool.request({
      path: `/v2/${repo}/manifests/${tag}`,
      method: 'GET',
      headers: { accept: MANIFEST_ACCEPT },
      headersTimeout: REQUEST_TIMEOUT_MS,
      bodyTimeout: REQUEST_TIMEOUT_MS,
    });
    await res.body.dump({ limit: 1 << 20 });
    return res.statusCode === 200;
  } catch {
    return false;
  }
}

interface LoadResult {
  ok: number;
  failed: number;
  startMs: number;
  /** When the last response had been read. */
  endMs: number;
}

/** Pulls with `concurrency` in flight until `count` pulls were issued or `durationMs` passed. */
async function drive(pool: Pool, repo: string, tag: string, concurrency: number, count: number, durationMs: number): Promise<LoadResult> {
  let issued = 0;
  let ok = 0;
  let failed = 0;
  const startMs = nowMs();
  const stopAt = startMs + durationMs;
  const loop = async () => {
    while (issued < count && nowMs() < stopAt) {
      issued++;
      if (await pull(pool, repo, tag)) ok++;
      else failed++;
    }
  };
  await Promise.all(Array.from({ length: concurrency }, loop));
  return { ok, failed, startMs, endMs: nowMs() };
}

/** Warm-up pulls on `repo`, then waits until all their events are in, so none leaks into the measurement. */
async function warmUp(pool: Pool, receiver: Receiver, repo: string, tag: string): Promise<void> {
  if (WARMUP_OPS === 0) return;
  await receiver.phase(repo);
  const load = await drive(pool, repo, tag, CONCURRENCY, WARMUP_OPS, 60_000);
  if (load.failed > 0) throw new Error(`warm-up: ${load.failed} pulls failed`);
  if (!(await receiver.waitFor(S.matched, load.ok, DRAIN_TIMEOUT_MS))) {
    throw new Error(`warm-up: only ${receiver.get(S.matched)} of ${load.ok} events arrived`);
  }
  await sleep(200);
}

// ---------------------------------------------------------------------------------------------
// Measurements.

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  const rank = Math.min(sorted.length, Math.max(1, Math.ceil((p / 100) * sorted.length)));
  return sorted[rank - 1] ?? NaN;
}

const r1 = (n: number) => Math.round(n * 10) / 10;
const r2 = (n: number) => Math.round(n * 100) / 100;
const r3 = (n: number) => Math.round(n * 1000) / 1000;

interface LatencyResult {
  ops: number;
  gapMs: number;
  ok: number;
  received: number;
  missing: number;
  duplicates: number;
  p50Ms: number;
  p90Ms: number;
  p99Ms: number;
  minMs: number;
  maxMs: number;
  meanMs: number;
  /** Events that arrived before the client had read the end of its response. */
  beforeResponse: number;
  seconds: number;
  serverCpuSeconds: number;
}

async function measureLatency(pool: Pool, base: string, receiver: Receiver, pid: number): Promise<LatencyResult> {
  const repo = 'bench/latency';
  const tags = Array.from({ length: LATENCY_OPS }, (_, i) => `t${String(i).padStart(5, '0')}`);
  await setupRepo(pool, base, receiver, repo, tags);
  await warmUp(pool, receiver, repo, tags[0]!);
  await receiver.phase(repo, true);
  const cpu0 = cpuSeconds(pid);
  const done = new Map<string, number>();
  const t0 = nowMs();
  let ok = 0;
  for (const tag of tags) {
    if (await pull(pool, repo, tag)) {
      done.set(tag, nowMs());
      ok++;
    }
    if (LATENCY_GAP_MS > 0) await sleep(LATENCY_GAP_MS);
  }
  const seconds = (nowMs() - t0) / 1000;
  await receiver.waitFor(S.matched, ok, 30_000);
  const cpu = cpuSeconds(pid) - cpu0;
  const got = await receiver.tagTimes();
  const lat: number[] = [];
  for (const [tag, sent] of done) {
    const at = got.get(tag);
    if (at !== undefined) lat.push(at - sent);
  }
  lat.sort((a, b) => a - b);
  return {
    ops: LATENCY_OPS,
    gapMs: LATENCY_GAP_MS,
    ok,
    received: lat.length,
    missing: ok - lat.length,
    duplicates: receiver.get(S.duplicates),
    p50Ms: r2(percentile(lat, 50)),
    p90Ms: r2(percentile(lat, 90)),
    p99Ms: r2(percentile(lat, 99)),
    minMs: r2(lat[0] ?? NaN),
    maxMs: r2(lat[lat.length - 1] ?? NaN),
    meanMs: r2(lat.reduce((a, b) => a + b, 0) / Math.max(1, lat.length)),
    beforeResponse: lat.filter((x) => x < 0).length,
    seconds: r2(seconds),
    serverCpuSeconds: r2(cpu),
  };
}

interface FloodResult {
  pulls: number;
  ok: number;
  failed: number;
  loadSeconds: number;
  /** Successful pulls per second, as the client saw them. */
  pullsPerSecond: number;
  received: number;
  complete: boolean;
  duplicates: number;
  posts: number;
  eventsPerPost: number;
  maxEventsPerPost: number;
  /** Events per second at the receiver, first event to last event. */
  receiverEventsPerSecond: number;
  /** Events per second at the receiver while the load ran (events in by the last response / load time). */
  receiverEventsPerSecondDuringLoad: number;
  receivedAtLoadEnd: number;
  /** Last event's arrival minus the last response (negative: it came before). */
  lastEventAfterLoadEndMs: number;
  /** Events delivered after the load ended, per second (only when there was a backlog). */
  drainEventsPerSecond: number | null;
  serverCpuSeconds: number;
  serverCpuMsPerEvent: number;
  /** Capacity run only: POSTs answered 503 while the receiver was paused. */
  rejectedPosts?: number;
  /** Capacity run only: receiver resumed -> last event. */
  resumeToLastEventMs?: number;
  /** Capacity run only: server CPU seconds from the resume to the last event (vs the wall time above). */
  serverCpuSecondsWhileDraining?: number;
}

/**
 * Pulls (`count` or `durationMs`, whichever ends first), then waits for every event.
 * `paused`: the receiver answers 503 (Retry-After: 1) during the load and resumes 1 s after it,
 * so the whole load is a standing backlog and the first-to-last rate is the delivery capacity.
 */
async function measureFlood(
  pool: Pool,
  base: string,
  receiver: Receiver,
  pid: number,
  repo: string,
  count: number,
  durationMs: number,
  paused = false,
): Promise<FloodResult> {
  await setupRepo(pool, base, receiver, repo, ['latest']);
  await warmUp(pool, receiver, repo, 'latest');
  await receiver.phase(repo);
  const rejected0 = receiver.get(S.rejectedPosts);
  if (paused) await receiver.pause(true);
  const cpu0 = cpuSeconds(pid);
  const load = await drive(pool, repo, 'latest', CONCURRENCY, count, durationMs);
  const receivedAtLoadEnd = receiver.get(S.matched);
  let resumedAt = NaN;
  let cpuAtResume = NaN;
  if (paused) {
    await sleep(1000);
    resumedAt = nowMs();
    cpuAtResume = cpuSeconds(pid);
    await receiver.pause(false);
  }
  const complete = await receiver.waitFor(S.matched, load.ok, DRAIN_TIMEOUT_MS);
  const cpuAtDrained = cpuSeconds(pid);
  await sleep(300); // late duplicates, if any
  const cpu = cpuSeconds(pid) - cpu0;
  const received = receiver.get(S.matched);
  const first = receiver.get(S.firstMs);
  const last = receiver.get(S.lastMs);
  const loadSeconds = (load.endMs - load.startMs) / 1000;
  const afterMs = last - load.endMs;
  const backlog = received - receivedAtLoadEnd;
  return {
    pulls: load.ok + load.failed,
    ok: load.ok,
    failed: load.failed,
    loadSeconds: r3(loadSeconds),
    pullsPerSecond: Math.round(load.ok / loadSeconds),
    received,
    complete,
    duplicates: receiver.get(S.duplicates),
    posts: receiver.get(S.matchedPosts),
    eventsPerPost: r1(received / Math.max(1, receiver.get(S.matchedPosts))),
    maxEventsPerPost: receiver.get(S.maxPerPost),
    // The first POST's events arrived at `first`: the rate counts the ones after it.
    receiverEventsPerSecond: last > first ? Math.round((received - receiver.get(S.firstPostMatched)) / ((last - first) / 1000)) : NaN,
    receiverEventsPerSecondDuringLoad: Math.round(receivedAtLoadEnd / loadSeconds),
    receivedAtLoadEnd,
    lastEventAfterLoadEndMs: r1(afterMs),
    drainEventsPerSecond: backlog > 100 && afterMs > 0 ? Math.round(backlog / (afterMs / 1000)) : null,
    serverCpuSeconds: r2(cpu),
    serverCpuMsPerEvent: r3((cpu * 1000) / Math.max(1, load.ok)),
    ...(paused
      ? {
          rejectedPosts: receiver.get(S.rejectedPosts) - rejected0,
          resumeToLastEventMs: r1(last - resumedAt),
          serverCpuSecondsWhileDraining: r2(cpuAtDrained - cpuAtResume),
        }
      : {}),
  };
}

// ---------------------------------------------------------------------------------------------
// Main.

interface Run {
  phase: Phase;
  config: ConfigKind;
  pid: number;
  startedAt: string;
  /** sha256 over Dockyard's src/ when this server started (src may change under a long run). */
  srcHash: string;
  /** 1-minute load average before and after: other work on the machine shows here. */
  loadAvgBefore: number;
  loadAvgAfter: number;
  result: LatencyResult | FloodResult;
}

async function runOne(phase: Phase, kind: ConfigKind, receiver: Receiver): Promise<Run> {
  const dir = await mkdtemp(path.join(os.tmpdir(), `notify-bench-${kind}-`));
  tempDirs.add(dir);
  const server = await startServer(kind, dir, receiver.url);
  const pool = new Pool(server.base, { connections: CONCURRENCY, pipelining: 1, keepAliveTimeout: 60_000 });
  const startedAt = new Date().toISOString();
  const srcHash = srcTreeHash();
  const loadAvgBefore = r2(os.loadavg()[0] ?? NaN);
  try {
    await waitReady(server, pool);
    let result: LatencyResult | FloodResult;
    if (phase === 'latency') result = await measureLatency(pool, server.base, receiver, server.pid);
    else if (phase === 'burst') result = await measureFlood(pool, server.base, receiver, server.pid, 'bench/burst', BURST_OPS, 10 * 60_000);
    else if (phase === 'backlog') result = await measureFlood(pool, server.base, receiver, server.pid, 'bench/sustain', SUSTAIN_MAX_OPS, SUSTAIN_S * 1000);
    else result = await measureFlood(pool, server.base, receiver, server.pid, 'bench/capacity', CAPACITY_OPS, 10 * 60_000, true);
    if (server.child.exitCode !== null || server.child.signalCode !== null) {
      throw new Error(`${kind} exited during the run: ${server.stderrTail()}`);
    }
    return { phase, config: kind, pid: server.pid, startedAt, srcHash, loadAvgBefore, loadAvgAfter: r2(os.loadavg()[0] ?? NaN), result };
  } catch (err) {
    const tail = server.stderrTail();
    if (tail) process.stderr.write(`--- ${kind} stderr ---\n${tail}\n`);
    throw err;
  } finally {
    await pool.close().catch(() => undefined);
    await stopServer(server);
    await rm(dir, { recursive: true, force: true });
    tempDirs.delete(dir);
  }
}

function describeRun(run: Run): string {
  const r = run.result;
  if ('p50Ms' in r) {
    return `p50 ${r.p50Ms} ms, p99 ${r.p99Ms} ms, max ${r.maxMs} ms (${r.received}/${r.ok} events, ${r.beforeResponse} before the response)`;
  }
  return (
    `${r.ok} pulls in ${r.loadSeconds} s (${r.pullsPerSecond}/s); received ${r.received}${r.complete ? '' : ' (INCOMPLETE)'} ` +
    `at ${r.receiverEventsPerSecond} ev/s in ${r.posts} POSTs; last event ${r.lastEventAfterLoadEndMs} ms after the load; ` +
    `${r.receivedAtLoadEnd} in at load end; server CPU ${r.serverCpuSeconds} s; loadavg ${run.loadAvgBefore}→${run.loadAvgAfter}`
  );
}

/** A short hash of every file under src/ (path and content), to tell whether src changed mid-run. */
function srcTreeHash(): string {
  const hash = createHash('sha256');
  const walk = (dir: string) => {
    for (const entry of readdirSync(dir, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
      const full = path.join(dir, entry.name);
      if (entry.isDirectory()) walk(full);
      else if (entry.isFile()) hash.update(path.relative(ROOT, full)).update('\0').update(readFileSync(full)).update('\0');
    }
  };
  walk(path.join(ROOT, 'src'));
  return hash.digest('hex').slice(0, 16);
}

/** Median time of a 4 KiB write + fdatasync in the temp directory (where both servers keep their data). */
function fsyncProbeMs(): number {
  const file = path.join(os.tmpdir(), `notify-bench-fsync-${process.pid}`);
  const fd = openSync(file, 'w');
  const times: number[] = [];
  try {
    const block = Buffer.alloc(4096, 1);
    for (let i = 0; i < 50; i++) {
      writeSync(fd, block);
      const t = nowMs();
      fdatasyncSync(fd);
      times.push(nowMs() - t);
    }
  } finally {
    closeSync(fd);
    unlinkSync(file);
  }
  times.sort((a, b) => a - b);
  return r3(percentile(times, 50));
}

function sh(cmd: string, args: string[]): string {
  try {
    return execFileSync(cmd, args, { encoding: 'utf8', timeout: 10_000 }).trim();
  } catch (err) {
    return `unavailable (${(err as Error).message.split('\n')[0]})`;
  }
}

function fmt(n: number | string | null | undefined, digits = 1): string {
  if (typeof n === 'string') return n;
  if (n === null || n === undefined || !Number.isFinite(n)) return '–';
  return Math.abs(n) >= 1000 ? Math.round(n).toLocaleString('en-US') : n.toFixed(digits).replace(/\.0+$/, '');
}

function ratio(a: number | string | null | undefined, b: number | string | null | undefined): string {
  if (typeof a === 'string' || typeof b === 'string') return '–';
  if (a === null || a === undefined || b === null || b === undefined || !Number.isFinite(a) || !Number.isFinite(b) || b === 0) return '–';
  return (a / b).toFixed(2);
}

type Cell = number | string | null | undefined;
type Row = { label: string; pick: (phase: Record<ConfigKind, Run | undefined>) => Record<ConfigKind, Cell>; digits?: number };

function buildTable(runs: Run[]): string {
  const by = (phase: Phase): Record<ConfigKind, Run | undefined> => ({
    dockyard: runs.find((r) => r.phase === phase && r.config === 'dockyard'),
    'dockyard-batched': runs.find((r) => r.phase === phase && r.config === 'dockyard-batched'),
    distribution: runs.find((r) => r.phase === phase && r.config === 'distribution'),
  });
  const lat = (f: keyof LatencyResult) => (p: Record<ConfigKind, Run | undefined>) =>
    Object.fromEntries(CONFIGS.map((k) => [k, (p[k]?.result as LatencyResult | undefined)?.[f] as number | undefined])) as Record<ConfigKind, number | undefined>;
  const fl = (f: keyof FloodResult) => (p: Record<ConfigKind, Run | undefined>) =>
    Object.fromEntries(CONFIGS.map((k) => [k, (p[k]?.result as FloodResult | undefined)?.[f] as number | undefined])) as Record<ConfigKind, number | undefined>;
  /** "received/successful pulls", flagged when short. */
  const counted = (p: Record<ConfigKind, Run | undefined>) =>
    Object.fromEntries(
      CONFIGS.map((k) => {
        const r = p[k]?.result;
        if (!r) return [k, undefined];
        const got = r.received;
        return [k, `${got.toLocaleString('en-US')}/${r.ok.toLocaleString('en-US')}${got < r.ok ? ' (short)' : ''}`];
      }),
    ) as Record<ConfigKind, Cell>;
  const afterS = (p: Record<ConfigKind, Run | undefined>) =>
    Object.fromEntries(
      CONFIGS.map((k) => {
        const r = p[k]?.result as FloodResult | undefined;
        if (!r) return [k, undefined];
        const v = Math.max(0, r.lastEventAfterLoadEndMs) / 1000;
        return [k, r.complete ? v : `> ${v.toFixed(1)} (incomplete)`];
      }),
    ) as Record<ConfigKind, Cell>;
  const sections: [Phase, string, Row[]][] = [
    [
      'latency',
      `1. Event latency, ${LATENCY_OPS} pulls ${LATENCY_GAP_MS} ms apart`,
      [
        { label: 'p50 (ms)', pick: lat('p50Ms'), digits: 2 },
        { label: 'p99 (ms)', pick: lat('p99Ms'), digits: 2 },
        { label: 'max (ms)', pick: lat('maxMs'), digits: 1 },
        { label: 'events received / pulls', pick: counted },
      ],
    ],
    [
      'burst',
      `2. Burst of ${BURST_OPS.toLocaleString('en-US')} pulls, ${CONCURRENCY} in flight`,
      [
        { label: 'events/s at receiver (first→last event)', pick: fl('receiverEventsPerSecond'), digits: 0 },
        { label: 'pulls/s (client)', pick: fl('pullsPerSecond'), digits: 0 },
        { label: 'last event after load end (s)', pick: afterS, digits: 2 },
        { label: 'events received / pulls', pick: counted },
        { label: 'events per POST', pick: fl('eventsPerPost'), digits: 1 },
        { label: 'server CPU per pull (ms)', pick: fl('serverCpuMsPerEvent'), digits: 3 },
      ],
    ],
    [
      'backlog',
      `3. ${SUSTAIN_S} s pull load, ${CONCURRENCY} in flight`,
      [
        { label: 'backlog: load end → all events (s)', pick: afterS, digits: 2 },
        { label: 'events received / successful pulls', pick: counted },
        { label: 'pulls/s (client)', pick: fl('pullsPerSecond'), digits: 0 },
        { label: 'events still queued at load end', pick: (p) => {
          const out = {} as Record<ConfigKind, number | undefined>;
          for (const k of CONFIGS) {
            const r = p[k]?.result as FloodResult | undefined;
            out[k] = r ? r.ok - r.receivedAtLoadEnd : undefined;
          }
          return out;
        }, digits: 0 },
        { label: 'drain rate after load end (events/s)', pick: fl('drainEventsPerSecond'), digits: 0 },
      ],
    ],
    [
      'capacity',
      `4. Delivery capacity (diagnostic): backlog of ${CAPACITY_OPS.toLocaleString('en-US')} events, receiver paused during the pulls`,
      [
        { label: 'events/s at receiver (first→last event)', pick: fl('receiverEventsPerSecond'), digits: 0 },
        { label: 'receiver resumed → all events (s, incl. retry back-off)', pick: (p) => {
          const out = {} as Record<ConfigKind, number | undefined>;
          for (const k of CONFIGS) {
            const r = p[k]?.result as FloodResult | undefined;
            out[k] = r?.resumeToLastEventMs === undefined ? undefined : r.resumeToLastEventMs / 1000;
          }
          return out;
        }, digits: 2 },
        { label: 'server CPU while draining (s)', pick: fl('serverCpuSecondsWhileDraining'), digits: 2 },
        { label: 'events received / pulls', pick: counted },
        { label: 'events per POST', pick: fl('eventsPerPost'), digits: 1 },
      ],
    ],
  ];
  const out: string[] = [
    `| Measurement | ${LABEL.dockyard} | ${LABEL['dockyard-batched']} | ${LABEL.distribution} | Ratio unbatched/Distribution | Ratio batched/Distribution |`,
    '|---|---:|---:|---:|---:|---:|',
  ];
  for (const [phase, title, rows] of sections) {
    if (!runs.some((r) => r.phase === phase)) continue;
    out.push(`| **${title}** | | | | | |`);
    const p = by(phase);
    for (const row of rows) {
      const v = row.pick(p);
      const d = row.digits ?? 1;
      out.push(
        `| ${row.label} | ${fmt(v.dockyard, d)} | ${fmt(v['dockyard-batched'], d)} | ${fmt(v.distribution, d)} | ${ratio(v.dockyard, v.distribution)} | ${ratio(v['dockyard-batched'], v.distribution)} |`,
      );
    }
  }
  return out.join('\n');
}

function goals(runs: Run[]) {
  const find = (phase: Phase, config: ConfigKind) => runs.find((r) => r.phase === phase && r.config === config)?.result;
  const latency = find('latency', 'dockyard') as LatencyResult | undefined;
  const burst = find('burst', 'dockyard') as FloodResult | undefined;
  const burstB = find('burst', 'dockyard-batched') as FloodResult | undefined;
  const capacity = find('capacity', 'dockyard') as FloodResult | undefined;
  const capacityB = find('capacity', 'dockyard-batched') as FloodResult | undefined;
  const backlog = find('backlog', 'dockyard') as FloodResult | undefined;
  const backlogB = find('backlog', 'dockyard-batched') as FloodResult | undefined;
  const backlogS = (r: FloodResult | undefined) => (r ? (r.complete ? Math.max(0, r.lastEventAfterLoadEndMs) / 1000 : Infinity) : undefined);
  const item = (goal: string, measured: number | undefined, unit: string, met: (v: number) => boolean) => ({
    goal,
    measured: measured === undefined ? null : Number.isFinite(measured) ? measured : 'incomplete',
    unit,
    met: measured === undefined ? null : met(measured),
  });
  return [
    item(`event latency p50 under ${GOALS.latencyP50Ms} ms (unbatched)`, latency?.p50Ms, 'ms', (v) => v < GOALS.latencyP50Ms),
    // The sustained delivery rate is measured on a backlog (capacity): during a burst the receiver
    // can never see more events/s than the registry serves pulls/s, whatever delivery could do.
    item(`at least ${GOALS.unbatchedEventsPerS} events/s unbatched (delivering a backlog)`, capacity?.receiverEventsPerSecond, 'events/s', (v) => v >= GOALS.unbatchedEventsPerS),
    item(`at least ${GOALS.batchedEventsPerS} events/s batched (delivering a backlog)`, capacityB?.receiverEventsPerSecond, 'events/s', (v) => v >= GOALS.batchedEventsPerS),
    item(`unbatched delivery keeps up with a 32-way pull burst: last event within ${GOALS.backlogS} s of the load`, burst ? burst.lastEventAfterLoadEndMs / 1000 : undefined, 's', (v) => v < GOALS.backlogS),
    item(`batched delivery keeps up with a 32-way pull burst: last event within ${GOALS.backlogS} s of the load`, burstB ? burstB.lastEventAfterLoadEndMs / 1000 : undefined, 's', (v) => v < GOALS.backlogS),
    item(`backlog under ${GOALS.backlogS} s after a ${SUSTAIN_S} s load (unbatched)`, backlogS(backlog), 's', (v) => v < GOALS.backlogS),
    item(`backlog under ${GOALS.backlogS} s after a ${SUSTAIN_S} s load (batched)`, backlogS(backlogB), 's', (v) => v < GOALS.backlogS),
  ];
}

const runsSoFar: Run[] = [];
let benchStarted = '';
let FSYNC_MS = NaN;
let LOADAVG_AT_START: number[] = [];

async function writeResults(finished: boolean): Promise<string> {
  const result = {
    benchmark: 'notifications',
    date: benchStarted,
    finished,
    command: 'npm run bench:notify   # = npx tsx bench/notifications.ts',
    settings: {
      latencyOps: LATENCY_OPS,
      latencyGapMs: LATENCY_GAP_MS,
      burstOps: BURST_OPS,
      concurrency: CONCURRENCY,
      sustainSeconds: SUSTAIN_S,
      warmupOps: WARMUP_OPS,
      drainTimeoutMs: DRAIN_TIMEOUT_MS,
      endpoint: { timeout: '1s', threshold: 5, backoff: '1s' },
      batched: { maxevents: 500, maxwait: '50ms' },
      dockyardNodeArgs: DOCKYARD_NODE_ARGS,
      order: ORDER,
    },
    machine: {
      nproc: os.availableParallelism(),
      cpu: os.cpus()[0]?.model ?? 'unknown',
      memTotalBytes: os.totalmem(),
      node: process.version,
      kernel: os.release(),
      distribution: sh(DISTRIBUTION_BIN, ['--version']),
      tmpdir: os.tmpdir(),
      fdatasyncMedianMs: FSYNC_MS,
      gitHead: sh('git', ['-C', ROOT, 'rev-parse', '--short', 'HEAD']),
      srcUncommitted: sh('git', ['-C', ROOT, 'status', '--porcelain', '--', 'src']) || 'none',
      srcHashes: [...new Set(runsSoFar.map((r) => r.srcHash))],
      loadAvgAtStart: LOADAVG_AT_START,
    },
    goals: goals(runsSoFar),
    runs: runsSoFar,
  };
  const outDir = path.join(ROOT, '.bench');
  await mkdir(outDir, { recursive: true });
  const file = path.join(outDir, 'notifications.json');
  await writeFile(file, `${JSON.stringify(result, null, 2)}\n`);
  return file;
}

async function cleanup(): Promise<void> {
  for (const child of live) child.kill('SIGKILL');
  for (const dir of tempDirs) await rm(dir, { recursive: true, force: true });
}

async function main(): Promise<void> {
  execFileSync('npm', ['run', 'build', '--silent'], { cwd: ROOT, stdio: 'inherit' });
  benchStarted = new Date().toISOString();
  FSYNC_MS = fsyncProbeMs();
  LOADAVG_AT_START = os.loadavg().map(r2);
  if ((LOADAVG_AT_START[0] ?? 0) > 1.5) log(`note: load average ${LOADAVG_AT_START.join(' ')}: other work is running on this machine`);
  const overall = setTimeout(() => {
    log(`overall timeout of ${OVERALL_TIMEOUT_MS / 60_000} min reached; writing partial results`);
    void writeResults(false)
      .catch(() => undefined)
      .then(cleanup)
      .finally(() => process.exit(1));
  }, OVERALL_TIMEOUT_MS);
  process.once('SIGINT', () => void cleanup().finally(() => process.exit(130)));

  const receiver = await Receiver.start();
  log(`receiver on ${receiver.url}; phases ${ONLY_PHASES.join(', ')}; configs ${ONLY_CONFIGS.join(', ')}`);
  try {
    for (const phase of ONLY_PHASES) {
      for (const kind of ORDER[phase]) {
        if (!ONLY_CONFIGS.includes(kind)) continue;
        log(`${phase} ${kind}...`);
        const run = await runOne(phase, kind, receiver);
        runsSoFar.push(run);
        log(`  ${phase} ${kind}: ${describeRun(run)}`);
        await writeResults(false);
      }
    }
  } finally {
    await receiver.close();
  }
  clearTimeout(overall);
  const file = await writeResults(true);
  const hashes = new Set(runsSoFar.map((r) => r.srcHash));
  if (hashes.size > 1) log(`WARNING: src/ changed during the benchmark (${[...hashes].join(', ')}); runs measured different code`);

  const lines = [buildTable(runsSoFar), '', 'Goals (Dockyard):', ''];
  for (const g of goals(runsSoFar)) {
    if (g.met === null) continue;
    lines.push(`- ${g.goal}: measured ${typeof g.measured === 'number' ? fmt(g.measured, 2) : g.measured} ${g.unit} — ${g.met ? 'met' : 'NOT met'}`);
  }
  process.stdout.write(`${lines.join('\n')}\n`);
  log(`wrote ${path.relative(process.cwd(), file) || file}`);
}

main().catch(async (err: unknown) => {
  process.stderr.write(`notifications bench: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  await writeResults(false).catch(() => undefined);
  await cleanup();
  process.exit(1);
});
