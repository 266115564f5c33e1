/**
 * One server's load run: a fresh root and a webhook to the receiver, CLIENTS clients for LOAD_S
 * seconds over one keep-alive undici Pool, the server's VmRSS sampled meanwhile, then a bounded
 * wait until the receiver holds every event the successful operations owe.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { Pool } from 'undici';
import { procStatusKiB } from '../lib/proc.ts';
import { hasExited, withServer } from '../lib/processes.ts';
import { webhookEndpointLines } from '../lib/registries.ts';
import { r1, r2 } from '../lib/stats.ts';
import { withPeakRss } from '../lib/rss.ts';
import type { ServerKind } from '../requests/settings.ts';
import { nowMs, runClient } from './client.ts';
import { classOf, targetKindOfClass, type OpKind, type TargetKind } from './events.ts';
import type { Receiver, Summary } from './receiver.ts';
import { startServer } from './servers.ts';
import { CLIENTS, EVENT_POLL_MS, EVENT_WAIT_S, LOAD_S, STOP_TIMEOUT_MS } from './settings.ts';
import { Tally, type ErrorSample } from './tally.ts';

export interface EventCount {
  owed: number;
  received: number;
}

export interface LoadRun {
  server: ServerKind;
  round: number;
  cycles: number;
  loadS: number;
  perOp: ReturnType<Tally['perOp']>;
  opsPerS: number;
  serverErrors: number;
  clientErrors: number;
  wrongContent: number;
  errorSamples: ErrorSample[];
  peakRssMiB: number;
  rssAfterMiB: number;
  /** Owed and received (matching keys only) by target kind. */
  events: Record<TargetKind, EventCount>;
  /** Owed events that never came, and received events nothing owed (counted by key). */
  missing: number;
  unexpected: number;
  missingSamples: string[];
  unexpectedSamples: string[];
  duplicates: number;
  posts: number;
  /** Seconds from the end of the load to the last event received (0: all came before it ended); null when none came. */
  lastEventAfterS: number | null;
  allDelivered: boolean;
  byClassOwed: Record<string, number>;
  byClassReceived: Record<string, number>;
}

/** Polls the receiver until every class has what is owed, or EVENT_WAIT_S passes. */
async function waitForEvents(receiver: Receiver, owed: Map<string, number>): Promise<Summary> {
  const deadline = Date.now() + EVENT_WAIT_S * 1000;
  for (;;) {
    const s = await receiver.summary();
    const complete = [...owed].every(([cls, n]) => (s.byClass[cls] ?? 0) >= n);
    if (complete || Date.now() >= deadline) return s;
    await sleep(EVENT_POLL_MS);
  }
}

function compare(owed: Map<string, number>, got: Map<string, number>) {
  const events: Record<TargetKind, EventCount> = { manifest: { owed: 0, received: 0 }, blob: { owed: 0, received: 0 } };
  let missing = 0;
  let unexpected = 0;
  const missingSamples: string[] = [];
  const unexpectedSamples: string[] = [];
  for (const [key, n] of owed) {
    const cls = classOf(key);
    const have = got.get(key) ?? 0;
    const kind = targetKindOfClass(cls);
    events[kind].owed += n;
    events[kind].received += Math.min(n, have);
    if (have < n) {
      missing += n - have;
      if (missingSamples.length < 10) missingSamples.push(key);
    }
  }
  for (const [key, n] of got) {
    const extra = n - (owed.get(key) ?? 0);
    if (extra > 0) {
      unexpected += extra;
      if (unexpectedSamples.length < 10) unexpectedSamples.push(key);
    }
  }
  return { events, missing, unexpected, missingSamples, unexpectedSamples };
}

export function runLoad(kind: ServerKind, round: number, receiver: Receiver): Promise<LoadRun> {
  return withServer(
    { label: kind, dirPrefix: `load-bench-${kind}-`, stopTimeoutMs: STOP_TIMEOUT_MS },
    (dir) => startServer(kind, dir, webhookEndpointLines(receiver.url)),
    async (server) => {
      await receiver.reset();
      const pool = new Pool(server.base, { connections: CLIENTS, keepAliveTimeout: 30_000, keepAliveMaxTimeout: 60_000 });
      const tally = new Tally(Date.now());
      try {
        const { value, peakMiB } = await withPeakRss(server.pid, async () => {
          const t0 = nowMs();
          await Promise.all(Array.from({ length: CLIENTS }, (_, i) => runClient(i, pool, kind, t0 + LOAD_S * 1000, tally)));
          const loadS = (nowMs() - t0) / 1000;
          const loadEndMs = Date.now();
          const summary = await waitForEvents(receiver, tally.owedByClass());
          return { loadS, loadEndMs, summary };
        });
        if (hasExited(server.child)) throw new Error(`${kind} exited during the load: ${server.stderrTail()}`);
        const { loadS, loadEndMs, summary } = value;
        const cmp = compare(tally.owed, await receiver.keys());
        const perOp = tally.perOp(loadS);
        const run: LoadRun = {
          server: kind,
          round,
          cycles: tally.cycles,
          loadS: r2(loadS),
          perOp,
          opsPerS: Object.values(perOp).reduce((a, o) => a + o.perS, 0),
          serverErrors: tally.serverErrors,
          clientErrors: tally.clientErrors,
          wrongContent: tally.wrongContent,
          errorSamples: tally.samples,
          peakRssMiB: peakMiB,
          rssAfterMiB: r1((procStatusKiB(server.pid, 'VmRSS') ?? NaN) / 1024),
          ...cmp,
          duplicates: summary.duplicates,
          posts: summary.posts,
          lastEventAfterS: summary.lastEventMs > 0 ? r2(Math.max(0, summary.lastEventMs - loadEndMs) / 1000) : null,
          allDelivered: cmp.missing === 0,
          byClassOwed: Object.fromEntries(tally.owedByClass()),
          byClassReceived: summary.byClass,
        };
        logRun(run);
        return run;
      } finally {
        await pool.close();
      }
    },
  );
}

function logRun(r: LoadRun): void {
  const ops = (Object.entries(r.perOp) as [OpKind, LoadRun['perOp'][OpKind]][]).map(([op, o]) => `${op} ${o.perS}/s p99 ${o.p99Ms} ms`).join(', ');
  process.stderr.write(
    `  round ${r.round} ${r.server.padEnd(12)} ${r.cycles} cycles in ${r.loadS} s: ${ops}\n` +
      `    errors server ${r.serverErrors} client ${r.clientErrors} content ${r.wrongContent}; RSS peak ${r.peakRssMiB} MiB, after ${r.rssAfterMiB} MiB\n` +
      `    events manifest ${r.events.manifest.received}/${r.events.manifest.owed}, blob ${r.events.blob.received}/${r.events.blob.owed}, missing ${r.missing}, unexpected ${r.unexpected}, duplicates ${r.duplicates}, last ${r.lastEventAfterS ?? '-'} s after the load\n`,
  );
  for (const e of r.errorSamples) process.stderr.write(`    ${e.class} error at ${e.atS} s in ${e.op}: ${e.status ?? 'transport'} ${e.detail}\n`);
}
