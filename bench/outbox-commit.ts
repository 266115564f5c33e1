/**
 * What the outbox itself costs a change, SQLite against PostgreSQL: the commits a registry request
 * makes (an intent, fsynced, before the change; then its event replacing the intent), through the
 * real writer thread and its group commit, from C concurrent "requests" for a fixed time each.
 *
 *   npx tsx bench/outbox-commit.ts        (or: npm run bench:outbox)
 *
 * Per round, per outbox (order alternated), per concurrency: a fresh outbox (a temp SQLite file;
 * a fresh database on a PostgreSQL server this script starts, Debian's, fsync and
 * synchronous_commit on), a warm-up, then DURATION seconds of requests. Reports changes/s (= events
 * per second: one event per change), the latency of one change's two commits (p50, p99), and the
 * commits per change (how much group commit gathered). CNCF Distribution has no durable outbox
 * (its events are queued in memory), so there is no row of it here; see the push-events benchmark
 * for whole pushes side by side.
 *
 * Knobs: BENCH_OUTBOX_SECONDS (5), BENCH_OUTBOX_CONCURRENCY (1,8,32), BENCH_ROUNDS (3).
 */
import { randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import type { Worker } from 'node:worker_threads';
import { startPostgres, type TestPostgres } from '../test/helpers/postgres.ts';
import { benchTmpDir, intEnv } from './lib/env.ts';
import { fsyncProbeMs, machineFacts, writeResultsJson } from './lib/machine.ts';
import { median, percentile, r1, r2 } from './lib/stats.ts';
import type { IntentRecord } from '../src/notify/events/change-intent.ts';
import type { OutboxOptions } from '../src/notify/options.ts';
import { openOutboxBackend } from '../src/notify/outbox/outbox-backend.ts';
import { OutboxClient, type WriterPort } from '../src/notify/outbox/outbox-client.ts';
import type { WriteRequest } from '../src/notify/protocol.ts';
import { startThread } from '../src/notify/threads/thread.ts';

const SECONDS = intEnv('BENCH_OUTBOX_SECONDS', 5, 1, 60);
const ROUNDS = intEnv('BENCH_ROUNDS', 3, 1, 10);
const LEVELS = (process.env.BENCH_OUTBOX_CONCURRENCY ?? '1,8,32').split(',').map(Number);
const KINDS = ['sqlite', 'postgres'] as const;
type Kind = (typeof KINDS)[number];
const NOTIFY = new URL('../src/notify/threaded-notifier.ts', import.meta.url).href;

interface Cell {
  kind: Kind;
  concurrency: number;
  round: number;
  changesPerSecond: number;
  p50Ms: number;
  p99Ms: number;
  commitsPerChange: number;
}

function record(): IntentRecord {
  return {
    id: randomUUID(),
    at: Date.now(),
    change: { kind: 'blob.push', repository: 'bench/app' as never, digest: `sha256:${'0'.repeat(64)}` as never, already: false, baseUrl: 'http://127.0.0.1' },
    origin: {
      request: { id: randomUUID(), addr: '127.0.0.1', host: '127.0.0.1:5000', method: 'PUT', useragent: 'bench' },
      actor: {},
      source: { addr: 'bench:5000', instanceID: randomUUID() },
    } as IntentRecord['origin'],
  };
}

/** One outbox, its writer thread started as the notifier starts it, and a client on it. */
async function openOutbox(options: OutboxOptions): Promise<{ client: OutboxClient; commits: () => number; close(): Promise<void> }> {
  const backend = openOutboxBackend(options);
  await backend.interrupted(async () => undefined);
  const worker: Worker = startThread(NOTIFY, backend.writer.entry, { workerData: { ...backend.writer.workerData, failpoints: [] } });
  await new Promise<void>((resolve, reject) => {
    worker.once('error', reject);
    worker.on('message', (m: { kind: string }) => m.kind === 'ready' && resolve());
  });
  let commits = 0;
  const counting: WriterPort = {
    postMessage: (m: WriteRequest) => {
      commits++;
      worker.postMessage(m);
    },
    on: (event, listener) => worker.on(event, listener),
  };
  const client = new OutboxClient(counting, { whileDetached: 'fail', unavailable: (r) => new Error(r), durableIntents: true });
  return {
    client,
    commits: () => commits,
    async close() {
      await client.close();
      await worker.terminate();
      await backend.close();
    },
  };
}

async function measure(kind: Kind, concurrency: number, round: number, pg: TestPostgres, dir: string, n: number): Promise<Cell> {
  const options: OutboxOptions = {
    file: path.join(dir, `outbox-${n}.sqlite`),
    postgres: kind === 'postgres' ? { url: await pg.createDatabase(`outbox_${n}`), ssl: null, connectTimeoutMs: 10_000 } : null,
    retentionMs: 86_400_000,
    deadLetterRetentionMs: 86_400_000,
    durableIntents: true,
  };
  const outbox = await openOutbox(options);
  try {
    const change = async () => {
      const r = record();
      await outbox.client.intend(r);
      await outbox.client.confirm(r.id, [{ endpoint: 'hook', eventId: r.id, payload: JSON.stringify({ id: r.id, timestamp: new Date().toISOString(), action: 'push' }) }]);
    };
    for (let i = 0; i < 20; i++) await change(); // warm-up
    const latencies: number[] = [];
    const commits0 = outbox.commits();
    const t0 = performance.now();
    const end = t0 + SECONDS * 1000;
    await Promise.all(
      Array.from({ length: concurrency }, async () => {
        while (performance.now() < end) {
          const t = performance.now();
          await change();
          latencies.push(performance.now() - t);
        }
      }),
    );
    const seconds = (performance.now() - t0) / 1000;
    latencies.sort((a, b) => a - b);
    return {
      kind,
      concurrency,
      round,
      changesPerSecond: latencies.length / seconds,
      p50Ms: percentile(latencies, 50),
      p99Ms: percentile(latencies, 99),
      commitsPerChange: (outbox.commits() - commits0) / latencies.length,
    };
  } finally {
    await outbox.close();
  }
}

async function main(): Promise<void> {
  const started = new Date();
  const load = os.loadavg();
  const dir = await mkdtemp(path.join(benchTmpDir(), 'outbox-bench-'));
  const pg = await startPostgres('outbox_bench');
  const cells: Cell[] = [];
  try {
    let n = 0;
    for (let round = 1; round <= ROUNDS; round++) {
      for (const concurrency of LEVELS) {
        const kinds = round % 2 === 1 ? KINDS : [...KINDS].reverse();
        for (const kind of kinds) {
          const cell = await measure(kind, concurrency, round, pg, dir, ++n);
          cells.push(cell);
          process.stderr.write(
            `  round ${round} ${kind.padEnd(8)} c=${String(concurrency).padStart(2)}  ${r1(cell.changesPerSecond)} changes/s  p50 ${r2(cell.p50Ms)} ms  p99 ${r2(cell.p99Ms)} ms  ${r2(cell.commitsPerChange)} commits/change  load ${os.loadavg()[0]?.toFixed(2)}\n`,
          );
        }
      }
    }
  } finally {
    await pg.stop();
    await rm(dir, { recursive: true, force: true });
  }
  const med = (kind: Kind, c: number, key: keyof Cell) => median(cells.filter((x) => x.kind === kind && x.concurrency === c).map((x) => x[key] as number));
  const lines = [
    `Outbox commits per change (an intent, then its event), median of ${ROUNDS} rounds of ${SECONDS} s, through the writer thread:`,
    '',
    '| concurrency | SQLite changes/s | PostgreSQL changes/s | PostgreSQL ÷ SQLite | SQLite p50 / p99 (ms) | PostgreSQL p50 / p99 (ms) | commits per change SQLite / PostgreSQL |',
    '|---:|---:|---:|---:|---:|---:|---:|',
    ...LEVELS.map((c) => {
      const s = med('sqlite', c, 'changesPerSecond');
      const p = med('postgres', c, 'changesPerSecond');
      return `| ${c} | ${r1(s)} | ${r1(p)} | ${r2(p / s)} | ${r2(med('sqlite', c, 'p50Ms'))} / ${r2(med('sqlite', c, 'p99Ms'))} | ${r2(med('postgres', c, 'p50Ms'))} / ${r2(med('postgres', c, 'p99Ms'))} | ${r2(med('sqlite', c, 'commitsPerChange'))} / ${r2(med('postgres', c, 'commitsPerChange'))} |`;
    }),
    '',
    `Load average at start ${load.map((x) => x.toFixed(2)).join(' ')}, at end ${os.loadavg().map((x) => x.toFixed(2)).join(' ')}.`,
  ];
  process.stdout.write(`${lines.join('\n')}\n`);
  const file = await writeResultsJson('outbox-commit', {
    startedAt: started.toISOString(),
    machine: machineFacts(),
    fsyncProbeMs: fsyncProbeMs('outbox-bench-fsync'),
    settings: { seconds: SECONDS, rounds: ROUNDS, levels: LEVELS },
    cells,
  });
  process.stderr.write(`wrote ${path.relative(process.cwd(), file)}\n`);
}

main().catch((err: unknown) => {
  process.stderr.write(`outbox-commit: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exitCode = 1;
});
