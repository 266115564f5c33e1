/** One run: a fresh server of one configuration, pointed at the receiver, and one measurement on it. */
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import { Pool } from 'undici';
import { ROOT } from '../lib/env.ts';
import { freePort, hasExited, waitReady, withServer, type ServerProcess } from '../lib/processes.ts';
import { registryConfigYaml, spawnDistribution, spawnDockyard, webhookEndpointLines } from '../lib/registries.ts';
import { r2 } from '../lib/stats.ts';
import {
  BURST_OPS,
  CAPACITY_OPS,
  CONCURRENCY,
  DOCKYARD_NODE_ARGS,
  READY_TIMEOUT_MS,
  STOP_TIMEOUT_MS,
  SUSTAIN_MAX_OPS,
  SUSTAIN_S,
  type ConfigKind,
  type Phase,
} from './common.ts';
import { measureFlood, measureLatency, type FloodResult, type LatencyResult } from './measure.ts';
import type { Receiver } from './receiver.ts';

/** The endpoint every configuration delivers to; `dockyard-batched` adds batching. */
function notificationLines(kind: ConfigKind, receiverUrl: string): string[] {
  return webhookEndpointLines(receiverUrl, kind === 'dockyard-batched' ? ['      batch:', '        maxevents: 500', '        maxwait: 50ms'] : []);
}

interface Started extends ServerProcess {
  base: string;
}

async function startServer(kind: ConfigKind, dir: string, receiverUrl: string): Promise<Started> {
  const storage = path.join(dir, 'storage');
  await mkdir(storage, { recursive: true });
  const addr = `127.0.0.1:${await freePort()}`;
  const configPath = path.join(dir, 'config.yml');
  await writeFile(
    configPath,
    registryConfigYaml({ addr, storage, disableAccessLog: kind === 'distribution', extra: notificationLines(kind, receiverUrl) }),
  );
  // Dockyard: the compiled entry `npm start` runs (built at the start of main()).
  const server =
    kind === 'distribution'
      ? spawnDistribution(kind, configPath, dir)
      : spawnDockyard(kind, [...DOCKYARD_NODE_ARGS, 'dist/main.js', configPath]);
  return { ...server, base: `http://${addr}` };
}

export interface Run {
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

export function runOne(phase: Phase, kind: ConfigKind, receiver: Receiver): Promise<Run> {
  return withServer(
    { label: kind, dirPrefix: `notify-bench-${kind}-`, stopTimeoutMs: STOP_TIMEOUT_MS },
    (dir) => startServer(kind, dir, receiver.url),
    async (server) => {
      const pool = new Pool(server.base, { connections: CONCURRENCY, pipelining: 1, keepAliveTimeout: 60_000 });
      const startedAt = new Date().toISOString();
      const srcHash = srcTreeHash();
      const loadAvgBefore = r2(os.loadavg()[0] ?? NaN);
      try {
        await waitReady(server, kind, READY_TIMEOUT_MS, async () => {
          const res = await pool.request({ path: '/v2/', method: 'GET', headersTimeout: 2000, bodyTimeout: 2000 });
          await res.body.dump();
          return res.statusCode === 200;
        });
        const { base, pid } = server;
        let result: LatencyResult | FloodResult;
        if (phase === 'latency') result = await measureLatency(pool, base, receiver, pid);
        else if (phase === 'burst') result = await measureFlood(pool, base, receiver, pid, 'bench/burst', BURST_OPS, 10 * 60_000);
        else if (phase === 'backlog') result = await measureFlood(pool, base, receiver, pid, 'bench/sustain', SUSTAIN_MAX_OPS, SUSTAIN_S * 1000);
        else result = await measureFlood(pool, base, receiver, pid, 'bench/capacity', CAPACITY_OPS, 10 * 60_000, true);
        if (hasExited(server.child)) throw new Error(`${kind} exited during the run: ${server.stderrTail()}`);
        return { phase, config: kind, pid, startedAt, srcHash, loadAvgBefore, loadAvgAfter: r2(os.loadavg()[0] ?? NaN), result };
      } finally {
        await pool.close().catch(() => undefined);
      }
    },
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
