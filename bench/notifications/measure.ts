/**
 * The measurements on one running server: event latency (sequential pulls) and the floods
 * (burst, time-bounded backlog, and the capacity run with the receiver paused).
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { Pool } from 'undici';
import { cpuSeconds } from '../lib/proc.ts';
import { percentile, r1, r2, r3 } from '../lib/stats.ts';
import { CONCURRENCY, DRAIN_TIMEOUT_MS, LATENCY_GAP_MS, LATENCY_OPS, nowMs } from './common.ts';
import { drive, pull, setupRepo, warmUp } from './load.ts';
import { S, type Receiver } from './receiver.ts';

export interface LatencyResult {
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

export async function measureLatency(pool: Pool, base: string, receiver: Receiver, pid: number): Promise<LatencyResult> {
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

export interface FloodResult {
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
export async function measureFlood(
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
