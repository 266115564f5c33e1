/**
 * Blob push/pull throughput and server memory: Dockyard against CNCF Distribution.
 *
 *   npx tsx bench/blob-throughput.ts        (or: npm run bench:blob)
 *
 * For each server, in alternation (ABBA order per round pair), a fresh child process is started
 * on an ephemeral loopback port with fresh temp storage. One blob (1 GiB by default) is pushed
 * with the spec's flow — POST /v2/<name>/blobs/uploads/ -> 202, one streamed chunked PATCH of the
 * whole body -> 202, PUT <location>?digest=<d> -> 201 — then pulled back with GET, streaming,
 * and its sha256 verified. The server's VmRSS is sampled from /proc every 50 ms.
 * The blob bytes are generated as a stream (a seeded pseudo-random 1 MiB block, varied per
 * MiB); nothing holds the blob in memory.
 *
 * Results: a Markdown table on stdout, JSON in .bench/blob-throughput.json.
 * Knobs (for quick checks; the documented figures use the defaults):
 *   BENCH_BLOB_MIB (default 1024), BENCH_ROUNDS (default 3),
 *   BENCH_DISTRIBUTION_BIN (default /usr/bin/docker-registry),
 *   BENCH_DOCKYARD_ENTRY (default src/main.ts; e.g. a prebuilt .mjs bundle to measure without tsx).
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { once } from 'node:events';
import { readFileSync, readlinkSync, realpathSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import * as http from 'node:http';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { Readable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const MiB = 1024 * 1024;
const BLOB_MIB = intEnv('BENCH_BLOB_MIB', 1024, 1, 4096);
const ROUNDS = intEnv('BENCH_ROUNDS', 3, 1, 10);
const DISTRIBUTION_BIN = process.env.BENCH_DISTRIBUTION_BIN ?? '/usr/bin/docker-registry';
/**
 * Dockyard's entry point, relative to the project root. The default is what `npm start` runs:
 * the compiled dist/main.js (built first with `npm run build`). A .ts entry runs under `--import tsx`.
 */
const DOCKYARD_ENTRY = process.env.BENCH_DOCKYARD_ENTRY ?? 'dist/main.js';
const OVERALL_TIMEOUT_MS = 10 * 60_000;
const READY_TIMEOUT_MS = 30_000;
const IDLE_TIMEOUT_MS = 60_000; // no bytes moving on a request for this long: fail
const STOP_TIMEOUT_MS = 10_000;
const SAMPLE_MS = 50;
const RSS_GOAL_MB = 150;
const LOAD_AT_START = os.loadavg();

type ServerKind = 'dockyard' | 'distribution';
const LABEL: Record<ServerKind, string> = { dockyard: 'Dockyard', distribution: 'Distribution 2.8.2' };

function intEnv(name: string, def: number, min: number, max: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return def;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < min || n > max) throw new Error(`${name} must be an integer in [${min}, ${max}]`);
  return n;
}

// ---------------------------------------------------------------------------------------------
// Blob bytes: deterministic, streamed, never held whole.

/** A 1 MiB block from a seeded xorshift32; each MiB of the blob is this block with its index stamped in. */
function seedBlock(): Buffer {
  const words = new Uint32Array(MiB / 4);
  let x = 0x2545f491;
  for (let i = 0; i < words.length; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    words[i] = x >>> 0;
  }
  return Buffer.from(words.buffer);
}
const SEED = seedBlock();

function* blobChunks(): Generator<Buffer> {
  for (let i = 0; i < BLOB_MIB; i++) {
    const chunk = Buffer.allocUnsafe(MiB);
    SEED.copy(chunk);
    chunk.writeUInt32LE(i, 0);
    chunk.writeUInt32LE((i ^ 0x9e3779b9) >>> 0, MiB - 4);
    yield chunk;
  }
}

function blobStream(): Readable {
  return Readable.from(blobChunks(), { objectMode: false, highWaterMark: 4 * MiB });
}

function blobDigest(): string {
  const hash = createHash('sha256');
  for (const chunk of blobChunks()) hash.update(chunk);
  return `sha256:${hash.digest('hex')}`;
}

// ---------------------------------------------------------------------------------------------
// HTTP (node:http, no keep-alive: one connection per request, as a simple client would).

interface Reply {
  status: number;
  headers: http.IncomingHttpHeaders;
  res: http.IncomingMessage;
}

function call(url: URL, method: string, headers: Record<string, string>, body?: Readable): Promise<Reply> {
  return new Promise<Reply>((resolve, reject) => {
    const req = http.request(url, { method, headers, agent: false });
    req.setTimeout(IDLE_TIMEOUT_MS, () => req.destroy(new Error(`${method} ${url.pathname}: idle for ${IDLE_TIMEOUT_MS} ms`)));
    req.on('error', reject);
    req.on('response', (res) => {
      res.setTimeout(IDLE_TIMEOUT_MS, () => res.destroy(new Error(`${method} ${url.pathname}: response idle`)));
      resolve({ status: res.statusCode ?? 0, headers: res.headers, res });
    });
    if (body) {
      body.on('error', (err) => req.destroy(err));
      body.pipe(req);
    } else {
      req.end();
    }
  });
}

/** Reads a (small) response body, at most 64 KiB kept. */
async function text(res: http.IncomingMessage): Promise<string> {
  let out = '';
  for await (const chunk of res as AsyncIterable<Buffer>) {
    if (out.length < 65536) out += chunk.toString('utf8');
  }
  return out.slice(0, 65536);
}

async function expectStatus(reply: Reply, want: number, what: string): Promise<void> {
  if (reply.status === want) {
    await text(reply.res);
    return;
  }
  throw new Error(`${what}: expected ${want}, got ${reply.status}: ${(await text(reply.res)).slice(0, 500)}`);
}

function locationOf(reply: Reply, base: URL, what: string): URL {
  const loc = reply.headers.location;
  if (!loc) throw new Error(`${what}: no Location header`);
  return new URL(loc, base);
}

function now(): number {
  return Number(process.hrtime.bigint()) / 1e9;
}

// ---------------------------------------------------------------------------------------------
// Server processes.

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

interface Started {
  child: ChildProcess;
  pid: number;
  base: URL;
  stderrTail: () => string;
}

async function startServer(kind: ServerKind, dir: string): Promise<Started> {
  const storage = path.join(dir, 'storage');
  await mkdir(storage, { recursive: true });
  const port = await freePort();
  const addr = `127.0.0.1:${port}`;
  let child: ChildProcess;
  if (kind === 'dockyard') {
    // node directly (not npm/npx/tsx wrappers), so child.pid is the server process itself.
    const args = DOCKYARD_ENTRY.endsWith('.ts') ? ['--import', 'tsx', DOCKYARD_ENTRY] : [DOCKYARD_ENTRY];
    child = spawn(process.execPath, args, {
      cwd: ROOT,
      env: {
        ...cleanEnv(),
        REGISTRY_HTTP_ADDR: addr,
        REGISTRY_STORAGE_FILESYSTEM_ROOTDIRECTORY: storage,
        REGISTRY_LOG_LEVEL: 'error',
      },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
  } else {
    const config = path.join(dir, 'config.yml');
    await writeFile(
      config,
      [
        'version: 0.1',
        'log:',
        '  level: error',
        '  accesslog:',
        '    disabled: true',
        'storage:',
        '  filesystem:',
        `    rootdirectory: ${JSON.stringify(storage)}`,
        '  maintenance:',
        '    uploadpurging:',
        '      enabled: false',
        'http:',
        `  addr: ${addr}`,
        '',
      ].join('\n'),
    );
    child = spawn(DISTRIBUTION_BIN, ['serve', config], { cwd: dir, env: cleanEnv(), stdio: ['ignore', 'ignore', 'pipe'] });
  }
  live.add(child);
  child.once('exit', () => live.delete(child));
  let tail = '';
  child.stderr?.on('data', (d: Buffer) => {
    tail = (tail + d.toString('utf8')).slice(-4000);
  });
  const pid = child.pid;
  if (pid === undefined) throw new Error(`${kind}: failed to spawn`);
  return { child, pid, base: new URL(`http://${addr}`), stderrTail: () => tail };
}

async function waitReady(s: Started, kind: ServerKind): Promise<void> {
  const deadline = Date.now() + READY_TIMEOUT_MS;
  for (let attempt = 0; attempt < 1000 && Date.now() < deadline; attempt++) {
    if (s.child.exitCode !== null || s.child.signalCode !== null) {
      throw new Error(`${kind} exited during startup (${s.child.exitCode ?? s.child.signalCode}): ${s.stderrTail()}`);
    }
    try {
      const reply = await call(new URL('/v2/', s.base), 'GET', {});
      await text(reply.res);
      if (reply.status === 200) return;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`${kind} not ready within ${READY_TIMEOUT_MS} ms: ${s.stderrTail()}`);
}

/** Confirms the sampled pid is the server binary itself (node running src/main.ts, or docker-registry). */
function checkIdentity(pid: number, kind: ServerKind): string {
  const exe = readlinkSync(`/proc/${pid}/exe`);
  const cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter(Boolean).join(' ');
  const ok =
    kind === 'dockyard'
      ? exe === realpathSync(process.execPath) && cmdline.includes(DOCKYARD_ENTRY)
      : exe === realpathSync(DISTRIBUTION_BIN);
  if (!ok) throw new Error(`pid ${pid} is not the ${kind} server: exe=${exe} cmdline=${cmdline}`);
  return cmdline;
}

async function stopServer(s: Started): Promise<void> {
  if (s.child.exitCode !== null || s.child.signalCode !== null) return;
  const exited = once(s.child, 'exit');
  s.child.kill('SIGTERM');
  const timer = setTimeout(() => s.child.kill('SIGKILL'), STOP_TIMEOUT_MS);
  await exited;
  clearTimeout(timer);
}

// ---------------------------------------------------------------------------------------------
// RSS sampling from /proc/<pid>/status.

function procStatusKiB(pid: number, field: 'VmRSS' | 'VmHWM'): number | null {
  try {
    const m = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m?.[1] ? Number(m[1]) : null;
  } catch {
    return null;
  }
}

const PHASES = ['startup', 'idle', 'push', 'pull', 'after'] as const;
type Phase = (typeof PHASES)[number];
// Shared Int32Array layout: [0] current phase index, [1] sample count, [2] largest gap between
// samples (ms), [3 + i] peak VmRSS (KiB) seen during PHASES[i].
const SAMPLER_WORKER = `
const { workerData } = require('node:worker_threads');
const { readFileSync } = require('node:fs');
const a = new Int32Array(workerData.buf);
let last = Date.now();
function sample() {
  const t = Date.now();
  if (t - last > Atomics.load(a, 2)) Atomics.store(a, 2, t - last);
  last = t;
  let kib;
  try {
    const m = /^VmRSS:\\s+(\\d+) kB/m.exec(readFileSync('/proc/' + workerData.pid + '/status', 'utf8'));
    if (!m) return;
    kib = Number(m[1]);
  } catch { return; }
  Atomics.add(a, 1, 1);
  const slot = 3 + Atomics.load(a, 0);
  for (let cur = Atomics.load(a, slot); kib > cur; cur = Atomics.load(a, slot)) {
    if (Atomics.compareExchange(a, slot, cur, kib) === cur) break;
  }
}
sample();
setInterval(sample, workerData.interval);
`;

/**
 * Samples the server's VmRSS every SAMPLE_MS from a worker thread, so the cadence does not
 * depend on this process's (busy) main event loop. Peaks are kept per phase.
 */
class RssSampler {
  private readonly shared = new Int32Array(new SharedArrayBuffer(4 * (3 + PHASES.length)));
  private readonly worker: Worker;

  constructor(private readonly pid: number) {
    this.worker = new Worker(SAMPLER_WORKER, { eval: true, workerData: { pid, buf: this.shared.buffer, interval: SAMPLE_MS } });
    this.worker.unref();
  }

  /** Switches phase; returns the current VmRSS (KiB) read right now, counted in the new phase. */
  enter(phase: Phase): number | null {
    this.note(procStatusKiB(this.pid, 'VmRSS'));
    Atomics.store(this.shared, 0, PHASES.indexOf(phase));
    const kib = procStatusKiB(this.pid, 'VmRSS');
    this.note(kib);
    return kib;
  }

  private note(kib: number | null): void {
    if (kib === null) return;
    const slot = 3 + Atomics.load(this.shared, 0);
    for (let cur = Atomics.load(this.shared, slot); kib > cur; cur = Atomics.load(this.shared, slot)) {
      if (Atomics.compareExchange(this.shared, slot, cur, kib) === cur) break;
    }
  }

  async stop(): Promise<void> {
    this.note(procStatusKiB(this.pid, 'VmRSS'));
    await this.worker.terminate();
  }

  get peakKiB(): Partial<Record<Phase, number>> {
    const out: Partial<Record<Phase, number>> = {};
    PHASES.forEach((p, i) => {
      const v = this.shared[3 + i] ?? 0;
      if (v > 0) out[p] = v;
    });
    return out;
  }

  get peak(): number {
    return Math.max(0, ...Object.values(this.peakKiB));
  }

  get samples(): number {
    return this.shared[1] ?? 0;
  }

  get maxGapMs(): number {
    return this.shared[2] ?? 0;
  }
}

// ---------------------------------------------------------------------------------------------
// One measured run.

interface RunResult {
  server: ServerKind;
  round: number;
  pid: number;
  cmdline: string;
  pushSeconds: number;
  patchSeconds: number;
  putSeconds: number;
  pullSeconds: number;
  pushMiBps: number;
  pullMiBps: number;
  idleRssMiB: number;
  peakRssMiB: number;
  peakRssByPhaseMiB: Record<string, number>;
  vmHwmMiB: number | null;
  rssSamples: number;
  maxSampleGapMs: number;
}

const kibToMiB = (k: number) => Math.round((k / 1024) * 10) / 10;
const round1 = (n: number) => Math.round(n * 10) / 10;

async function runOne(kind: ServerKind, round: number, digest: string): Promise<RunResult> {
  const dir = await mkdtemp(path.join(os.tmpdir(), `blob-bench-${kind}-`));
  tempDirs.add(dir);
  const server = await startServer(kind, dir);
  const sampler = new RssSampler(server.pid);
  try {
    await waitReady(server, kind);
    const cmdline = checkIdentity(server.pid, kind);
    const idle = sampler.enter('idle') ?? 0;
    const repo = `bench/blob-r${round}`;
    const base = server.base;

    // Push: POST -> PATCH (whole body, chunked, no Content-Range) -> PUT ?digest=.
    sampler.enter('push');
    const t0 = now();
    const post = await call(new URL(`/v2/${repo}/blobs/uploads/`, base), 'POST', { 'Content-Length': '0' });
    await expectStatus(post, 202, 'POST upload');
    const uploadUrl = locationOf(post, base, 'POST');
    const tPatch = now();
    const patch = await call(
      uploadUrl,
      'PATCH',
      { 'Content-Type': 'application/octet-stream', 'Transfer-Encoding': 'chunked' },
      blobStream(),
    );
    await expectStatus(patch, 202, 'PATCH upload');
    const afterPatch = locationOf(patch, base, 'PATCH');
    const range = patch.headers.range;
    if (range !== `0-${BLOB_MIB * MiB - 1}`) throw new Error(`PATCH: Range ${range}, expected 0-${BLOB_MIB * MiB - 1}`);
    const tPut = now();
    const putUrl = new URL(`${afterPatch.href}${afterPatch.search ? '&' : '?'}digest=${encodeURIComponent(digest)}`);
    const put = await call(putUrl, 'PUT', { 'Content-Length': '0' });
    await expectStatus(put, 201, 'PUT upload');
    const t1 = now();

    // Pull: GET, streamed, hashed.
    sampler.enter('pull');
    const t2 = now();
    const get = await call(new URL(`/v2/${repo}/blobs/${digest}`, base), 'GET', {});
    if (get.status !== 200) throw new Error(`GET blob: ${get.status}: ${await text(get.res)}`);
    const hash = createHash('sha256');
    let bytes = 0;
    for await (const chunk of get.res as AsyncIterable<Buffer>) {
      hash.update(chunk);
      bytes += chunk.length;
    }
    const t3 = now();
    const got = `sha256:${hash.digest('hex')}`;
    if (bytes !== BLOB_MIB * MiB || got !== digest) {
      throw new Error(`pulled ${bytes} bytes with ${got}, expected ${BLOB_MIB * MiB} bytes with ${digest}`);
    }
    sampler.enter('after');
    await new Promise((r) => setTimeout(r, 200));
    await sampler.stop();
    const hwm = procStatusKiB(server.pid, 'VmHWM');

    return {
      server: kind,
      round,
      pid: server.pid,
      cmdline,
      pushSeconds: t1 - t0,
      patchSeconds: tPut - tPatch,
      putSeconds: t1 - tPut,
      pullSeconds: t3 - t2,
      pushMiBps: BLOB_MIB / (t1 - t0),
      pullMiBps: BLOB_MIB / (t3 - t2),
      idleRssMiB: kibToMiB(idle),
      peakRssMiB: kibToMiB(sampler.peak),
      peakRssByPhaseMiB: Object.fromEntries(Object.entries(sampler.peakKiB).map(([k, v]) => [k, kibToMiB(v)])),
      vmHwmMiB: hwm === null ? null : kibToMiB(hwm),
      rssSamples: sampler.samples,
      maxSampleGapMs: sampler.maxGapMs,
    };
  } catch (err) {
    const tail = server.stderrTail();
    if (tail) process.stderr.write(`--- ${kind} stderr ---\n${tail}\n`);
    throw err;
  } finally {
    await sampler.stop();
    await stopServer(server);
    await rm(dir, { recursive: true, force: true });
    tempDirs.delete(dir);
  }
}

// ---------------------------------------------------------------------------------------------
// Main.

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? (s[mid] ?? NaN) : ((s[mid - 1] ?? NaN) + (s[mid] ?? NaN)) / 2;
}

function sh(cmd: string, args: string[]): string {
  try {
    return execFileSync(cmd, args, { encoding: 'utf8', timeout: 10_000 }).trim();
  } catch (err) {
    return `unavailable (${(err as Error).message.split('\n')[0]})`;
  }
}

async function cleanup(): Promise<void> {
  for (const child of live) child.kill('SIGKILL');
  for (const dir of tempDirs) await rm(dir, { recursive: true, force: true });
}

async function main(): Promise<void> {
  if (DOCKYARD_ENTRY === 'dist/main.js') {
    execFileSync('npm', ['run', 'build', '--silent'], { cwd: ROOT, stdio: 'inherit' });
  }
  const overall = setTimeout(() => {
    process.stderr.write(`blob-throughput: overall timeout of ${OVERALL_TIMEOUT_MS / 1000} s reached\n`);
    void cleanup().finally(() => process.exit(1));
  }, OVERALL_TIMEOUT_MS);
  process.once('SIGINT', () => void cleanup().finally(() => process.exit(130)));

  process.stderr.write(`blob-throughput: ${BLOB_MIB} MiB blob, ${ROUNDS} rounds per server; computing digest...\n`);
  const digest = blobDigest();
  process.stderr.write(`  digest ${digest}\n`);

  const runs: RunResult[] = [];
  for (let round = 1; round <= ROUNDS; round++) {
    const order: ServerKind[] = round % 2 === 1 ? ['dockyard', 'distribution'] : ['distribution', 'dockyard'];
    for (const kind of order) {
      const r = await runOne(kind, round, digest);
      runs.push(r);
      process.stderr.write(
        `  round ${round} ${kind.padEnd(12)} push ${r.pushMiBps.toFixed(1)} MiB/s (PUT ${r.putSeconds.toFixed(2)} s)` +
          `  pull ${r.pullMiBps.toFixed(1)} MiB/s  peak RSS ${r.peakRssMiB} MiB (HWM ${r.vmHwmMiB}, idle ${r.idleRssMiB})\n`,
      );
    }
  }
  clearTimeout(overall);

  const kinds: ServerKind[] = ['dockyard', 'distribution'];
  const med = Object.fromEntries(
    kinds.map((k) => {
      const mine = runs.filter((r) => r.server === k);
      return [
        k,
        {
          pushMiBps: round1(median(mine.map((r) => r.pushMiBps))),
          pullMiBps: round1(median(mine.map((r) => r.pullMiBps))),
          peakRssMiB: round1(median(mine.map((r) => r.peakRssMiB))),
          idleRssMiB: round1(median(mine.map((r) => r.idleRssMiB))),
          putSeconds: Math.round(median(mine.map((r) => r.putSeconds)) * 100) / 100,
        },
      ];
    }),
  ) as Record<ServerKind, { pushMiBps: number; pullMiBps: number; peakRssMiB: number; idleRssMiB: number; putSeconds: number }>;
  const ratio = (f: 'pushMiBps' | 'pullMiBps' | 'peakRssMiB' | 'idleRssMiB') =>
    Math.round((med.dockyard[f] / med.distribution[f]) * 100) / 100;
  const ratios = { pushMiBps: ratio('pushMiBps'), pullMiBps: ratio('pullMiBps'), peakRssMiB: ratio('peakRssMiB'), idleRssMiB: ratio('idleRssMiB') };
  const toMB = (mib: number) => Math.round(mib * 1.048576 * 10) / 10;
  const dockyardPeaks = runs.filter((r) => r.server === 'dockyard').map((r) => r.peakRssMiB);
  const dockyardMedianPeakMB = toMB(med.dockyard.peakRssMiB);
  const dockyardWorstPeakMB = toMB(Math.max(...dockyardPeaks));

  const table = [
    `Blob ${BLOB_MIB} MiB, median of ${ROUNDS} runs per server (alternated):`,
    '',
    '| | Push (MiB/s) | Pull (MiB/s) | Server peak RSS (MiB) | Server idle RSS (MiB) |',
    '|---|---:|---:|---:|---:|',
    ...kinds.map(
      (k) => `| ${LABEL[k]} | ${med[k].pushMiBps} | ${med[k].pullMiBps} | ${med[k].peakRssMiB} | ${med[k].idleRssMiB} |`,
    ),
    `| Ratio Dockyard/Distribution | ${ratios.pushMiBps} | ${ratios.pullMiBps} | ${ratios.peakRssMiB} | ${ratios.idleRssMiB} |`,
    '',
    `Goal: Dockyard server peak RSS under ${RSS_GOAL_MB} MB (1 MB = 10^6 bytes): median ${dockyardMedianPeakMB} MB ` +
      `(${dockyardMedianPeakMB < RSS_GOAL_MB ? 'met' : 'NOT met'}), highest run ${dockyardWorstPeakMB} MB ` +
      `(${dockyardWorstPeakMB < RSS_GOAL_MB ? 'met' : 'NOT met'}).`,
  ].join('\n');
  process.stdout.write(`${table}\n`);

  const result = {
    benchmark: 'blob-throughput',
    date: new Date().toISOString(),
    command: 'npx tsx bench/blob-throughput.ts',
    dockyardEntry: DOCKYARD_ENTRY,
    dockyardCommit: sh('git', ['-C', ROOT, 'describe', '--always', '--dirty', '--abbrev=12']),
    loadAverageAtStart: LOAD_AT_START,
    loadAverageAtEnd: os.loadavg(),
    blobBytes: BLOB_MIB * MiB,
    digest,
    rounds: ROUNDS,
    sampleIntervalMs: SAMPLE_MS,
    machine: {
      nproc: os.availableParallelism(),
      cpu: os.cpus()[0]?.model ?? 'unknown',
      memTotalBytes: os.totalmem(),
      node: process.version,
      kernel: os.release(),
      distribution: sh(DISTRIBUTION_BIN, ['--version']),
      disk: sh('df', ['-h', os.tmpdir()]),
      tmpdir: os.tmpdir(),
    },
    medians: med,
    ratiosDockyardOverDistribution: ratios,
    goal: {
      text: `server peak RSS under ${RSS_GOAL_MB} MB`,
      dockyardMedianPeakRssMB: dockyardMedianPeakMB,
      dockyardWorstPeakRssMB: dockyardWorstPeakMB,
      metByMedian: dockyardMedianPeakMB < RSS_GOAL_MB,
      metByEveryRun: dockyardWorstPeakMB < RSS_GOAL_MB,
    },
    runs,
  };
  const outDir = path.join(ROOT, '.bench');
  await mkdir(outDir, { recursive: true });
  await writeFile(path.join(outDir, 'blob-throughput.json'), `${JSON.stringify(result, null, 2)}\n`);
  process.stderr.write(`wrote ${path.relative(process.cwd(), path.join(outDir, 'blob-throughput.json')) || '.bench/blob-throughput.json'}\n`);
}

main().catch(async (err: unknown) => {
  process.stderr.write(`blob-throughput: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  await cleanup();
  process.exit(1);
});
