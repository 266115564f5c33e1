/**
 * One run: a fresh server of one configuration (fresh temp storage, ephemeral loopback port),
 * a warm-up, then (a) sequential and (b) concurrent small-image pushes; after each, a bounded
 * wait until the receiver has every manifest push event of that measurement.
 */
import { readFileSync, readlinkSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import * as http from 'node:http';
import * as path from 'node:path';
import { expect, now, request } from '../fsync/http.ts';
import { pushImage } from '../fsync/push.ts';
import { cpuSeconds } from '../lib/proc.ts';
import { freePort, hasExited, waitReady, withServer, type ServerProcess } from '../lib/processes.ts';
import { registryConfigYaml, spawnDistribution, spawnDockyard, webhookEndpointLines } from '../lib/registries.ts';
import { S, type Receiver } from './receiver.ts';
import {
  BEFORE_ENTRY,
  CONCURRENCY,
  DOCKYARD_ENTRY,
  EVENTS_WAIT_MS,
  HAS_ENDPOINT,
  IMAGES,
  PHASE_TIMEOUT_MS,
  READY_TIMEOUT_MS,
  STOP_TIMEOUT_MS,
  WARMUP_IMAGES,
  type ServerKind,
} from './settings.ts';

export interface Started extends ServerProcess {
  base: URL;
}

export function entryOf(kind: ServerKind): string {
  return kind === 'before-endpoint' ? BEFORE_ENTRY : DOCKYARD_ENTRY;
}

/**
 * The PostgreSQL server the `head-postgres` configuration's outbox lives on (started by the
 * benchmark's main when that configuration runs); each run gets a fresh database on it.
 */
let postgres: { createDatabase(name: string): Promise<string> } | null = null;
export function usePostgres(server: typeof postgres): void {
  postgres = server;
}

async function outboxLines(kind: ServerKind, dir: string): Promise<string[]> {
  if (kind !== 'head-postgres') return [];
  if (!postgres) throw new Error('head-postgres needs the benchmark to start PostgreSQL first');
  const url = await postgres.createDatabase(`bench_${path.basename(dir).replace(/[^a-z0-9]/gi, '_').toLowerCase()}`);
  return ['  outbox:', '    postgres:', `      url: ${url}`];
}

export async function startServer(kind: ServerKind, dir: string, receiverUrl: string): Promise<Started> {
  const storage = path.join(dir, 'storage');
  await mkdir(storage, { recursive: true });
  const addr = `127.0.0.1:${await freePort()}`;
  const configPath = path.join(dir, 'config.yml');
  const extra = HAS_ENDPOINT[kind] ? [...webhookEndpointLines(receiverUrl), ...(await outboxLines(kind, dir))] : [];
  await writeFile(configPath, registryConfigYaml({ addr, storage, disableAccessLog: true, extra }));
  const entry = entryOf(kind);
  const server =
    kind === 'distribution'
      ? spawnDistribution(kind, configPath, dir)
      : spawnDockyard(kind, [...(entry.endsWith('.ts') ? ['--import', 'tsx'] : []), entry, configPath]);
  return { ...server, base: new URL(`http://${addr}`) };
}

/** The pid must be the server itself (node running a Dockyard entry, or docker-registry), not a wrapper. */
export function cmdlineOf(pid: number, kind: ServerKind): string {
  const exe = readlinkSync(`/proc/${pid}/exe`);
  const cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter(Boolean).join(' ');
  const ok = kind === 'distribution' ? /docker-registry/.test(exe) || /docker-registry/.test(cmdline) : /node/.test(exe) && /main\.(js|ts)/.test(cmdline);
  if (!ok) throw new Error(`pid ${pid} is not the ${kind} server: exe ${exe}, cmdline ${cmdline}`);
  return cmdline;
}

/** Reads a tag back and checks it names the manifest pushed (the pushes really landed). */
async function checkTag(agent: http.Agent, base: URL, repo: string, tag: string, digest: string): Promise<void> {
  const r = expect(
    await request(agent, new URL(`/v2/${repo}/manifests/${tag}`, base), 'HEAD', { Accept: 'application/vnd.oci.image.manifest.v1+json' }),
    200,
    `HEAD ${repo}:${tag}`,
  );
  if (r.headers['docker-content-digest'] !== digest) throw new Error(`${repo}:${tag} resolves to ${r.headers['docker-content-digest']}, pushed ${digest}`);
}

export interface Events {
  expected: number;
  received: number;
  duplicates: number;
  /** All expected events arrived within EVENTS_WAIT_MS of the last push's reply. */
  complete: boolean;
  /** From the last push's reply to the receipt of the last expected event (0 if it came before). */
  lastEventAfterPushMs: number;
}

export interface Phase {
  images: number;
  seconds: number;
  imagesPerSecond: number;
  /** Server CPU from the first push to the last push's reply. */
  serverCpuSeconds: number;
  /** Server CPU from the first push until the receiver had every event (or the wait ended). */
  serverCpuWithEventsSeconds: number;
  events: Events | null;
}

export interface RunResult {
  server: ServerKind;
  round: number;
  repoPrefix: string;
  pid: number;
  cmdline: string;
  sequential: Phase & { msPerImageP50: number; msPerImageMax: number };
  concurrent: Phase & { clients: number };
}

function deadlineCheck(deadline: number, what: string): void {
  if (Date.now() > deadline) throw new Error(`${what}: over the phase limit of ${PHASE_TIMEOUT_MS / 1000} s`);
}

/** After a measurement: a bounded wait for its events (none expected without an endpoint). */
async function collectEvents(kind: ServerKind, receiver: Receiver, expected: number, pushEnd: number): Promise<Events | null> {
  if (!HAS_ENDPOINT[kind]) return null;
  const complete = await receiver.waitFor(expected, EVENTS_WAIT_MS);
  const lastMs = receiver.get(S.lastMs);
  return {
    expected,
    received: receiver.get(S.matched),
    duplicates: receiver.get(S.duplicates),
    complete,
    lastEventAfterPushMs: complete ? Math.max(0, lastMs - pushEnd * 1000) : NaN,
  };
}

/** `runIndex` makes the repositories of every run distinct, so a late event of one run never counts for another. */
export function runOne(kind: ServerKind, round: number, runIndex: number, receiver: Receiver): Promise<RunResult> {
  return withServer(
    { label: kind, dirPrefix: `push-events-bench-${kind}-`, stopTimeoutMs: STOP_TIMEOUT_MS },
    (dir) => startServer(kind, dir, receiver.url),
    async (server) => {
      const base = server.base;
      const agent = new http.Agent({ keepAlive: true, maxSockets: CONCURRENCY });
      const prefix = `pe${runIndex}`;
      try {
        await waitReady(server, kind, READY_TIMEOUT_MS, async () => (await request(agent, new URL('/v2/', base), 'GET', {})).status === 200);
        const cmdline = cmdlineOf(server.pid, kind);
        // Warm-up, not measured (its events are not counted: another repository prefix).
        await receiver.phase(`${prefix}/warmup`);
        for (let i = 0; i < WARMUP_IMAGES; i++) await pushImage(agent, base, `${prefix}/warmup`, `w${i}`);
        if (HAS_ENDPOINT[kind]) await receiver.waitFor(WARMUP_IMAGES, EVENTS_WAIT_MS);

        // (a) IMAGES images, one after another, one client.
        await receiver.phase(`${prefix}/seq`);
        let deadline = Date.now() + PHASE_TIMEOUT_MS;
        const perImage: number[] = [];
        let cpu0 = cpuSeconds(server.pid);
        let t0 = now();
        let last = '';
        for (let i = 0; i < IMAGES; i++) {
          const t = now();
          last = await pushImage(agent, base, `${prefix}/seq`, `t${i}`);
          perImage.push((now() - t) * 1000);
          deadlineCheck(deadline, '(a) sequential pushes');
        }
        let t1 = now();
        let cpuPush = cpuSeconds(server.pid) - cpu0;
        let events = await collectEvents(kind, receiver, IMAGES, t1);
        let cpuAll = cpuSeconds(server.pid) - cpu0;
        await checkTag(agent, base, `${prefix}/seq`, `t${IMAGES - 1}`, last);
        perImage.sort((x, y) => x - y);
        const sequential = {
          images: IMAGES,
          seconds: t1 - t0,
          imagesPerSecond: IMAGES / (t1 - t0),
          serverCpuSeconds: cpuPush,
          serverCpuWithEventsSeconds: cpuAll,
          events,
          msPerImageP50: perImage[Math.floor(perImage.length / 2)] ?? NaN,
          msPerImageMax: perImage[perImage.length - 1] ?? NaN,
        };

        // (b) the same number of images from CONCURRENCY clients, each its own repository.
        await receiver.phase(`${prefix}/conc-`);
        deadline = Date.now() + PHASE_TIMEOUT_MS;
        let next = 0;
        const lastOf = new Map<string, { tag: string; digest: string }>();
        cpu0 = cpuSeconds(server.pid);
        t0 = now();
        await Promise.all(
          Array.from({ length: CONCURRENCY }, async (_, c) => {
            const repo = `${prefix}/conc-${c}`;
            while (next < IMAGES) {
              const i = next++;
              const digest = await pushImage(agent, base, repo, `t${i}`);
              lastOf.set(repo, { tag: `t${i}`, digest });
              deadlineCheck(deadline, '(b) concurrent pushes');
            }
          }),
        );
        t1 = now();
        cpuPush = cpuSeconds(server.pid) - cpu0;
        events = await collectEvents(kind, receiver, IMAGES, t1);
        cpuAll = cpuSeconds(server.pid) - cpu0;
        for (const [repo, { tag, digest }] of lastOf) await checkTag(agent, base, repo, tag, digest);
        const concurrent = {
          images: IMAGES,
          clients: CONCURRENCY,
          seconds: t1 - t0,
          imagesPerSecond: IMAGES / (t1 - t0),
          serverCpuSeconds: cpuPush,
          serverCpuWithEventsSeconds: cpuAll,
          events,
        };
        if (hasExited(server.child)) throw new Error(`${kind} exited during the run: ${server.stderrTail()}`);
        return { server: kind, round, repoPrefix: prefix, pid: server.pid, cmdline, sequential, concurrent };
      } finally {
        agent.destroy();
      }
    },
  );
}
