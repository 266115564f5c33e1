/**
 * fsyncs per image: a fresh server of one configuration, a warm-up, then `strace -f -c -e
 * trace=fsync,fdatasync -p <pid>` attached (all its threads) for STRACE_IMAGES sequential pushes
 * and the wait for their events; strace is stopped by its pid (SIGINT) and its summary parsed.
 */
import { readFileSync, rmSync } from 'node:fs';
import * as http from 'node:http';
import * as path from 'node:path';
import { once } from 'node:events';
import { setTimeout as sleep } from 'node:timers/promises';
import { request } from '../fsync/http.ts';
import { pushImage } from '../fsync/push.ts';
import { cleanEnv, hasExited, spawnServer, waitReady, withServer } from '../lib/processes.ts';
import { S, type Receiver } from './receiver.ts';
import { cmdlineOf, startServer } from './run.ts';
import { EVENTS_WAIT_MS, HAS_ENDPOINT, READY_TIMEOUT_MS, STOP_TIMEOUT_MS, WARMUP_IMAGES, type ServerKind } from './settings.ts';
import { benchTmpDir } from '../lib/env.ts';

export interface StraceResult {
  server: ServerKind;
  images: number;
  fsync: number;
  fdatasync: number;
  perImage: number;
  eventsReceived: number | null;
  summary: string;
}

export function straceCount(kind: ServerKind, images: number, runIndex: number, receiver: Receiver, timeoutMs: number): Promise<StraceResult> {
  return withServer(
    { label: `${kind} (strace)`, dirPrefix: `push-events-strace-${kind}-`, stopTimeoutMs: STOP_TIMEOUT_MS },
    (dir) => startServer(kind, dir, receiver.url),
    async (server) => {
      const base = server.base;
      const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
      const prefix = `pe${runIndex}`;
      const out = path.join(benchTmpDir(), `push-events-strace-${process.pid}-${runIndex}.txt`);
      try {
        await waitReady(server, kind, READY_TIMEOUT_MS, async () => (await request(agent, new URL('/v2/', base), 'GET', {})).status === 200);
        cmdlineOf(server.pid, kind);
        await receiver.phase(`${prefix}/warmup`);
        for (let i = 0; i < WARMUP_IMAGES; i++) await pushImage(agent, base, `${prefix}/warmup`, `w${i}`);
        if (HAS_ENDPOINT[kind]) await receiver.waitFor(WARMUP_IMAGES, EVENTS_WAIT_MS);
        await receiver.phase(`${prefix}/strace`);

        const tracer = spawnServer('strace', 'strace', ['-f', '-c', '-e', 'trace=fsync,fdatasync', '-o', out, '-p', String(server.pid)], {
          cwd: '/',
          env: cleanEnv(),
        });
        try {
          // strace reports each thread it attached to; wait until it has, then a little longer.
          await waitReady(tracer, 'strace', 10_000, async () => /attached/.test(tracer.stderrTail()));
          await sleep(300);
          const deadline = Date.now() + timeoutMs;
          for (let i = 0; i < images; i++) {
            await pushImage(agent, base, `${prefix}/strace`, `t${i}`);
            if (Date.now() > deadline) throw new Error(`strace count: over ${timeoutMs / 1000} s`);
          }
          if (HAS_ENDPOINT[kind]) await receiver.waitFor(images, EVENTS_WAIT_MS);
          await sleep(200);
        } finally {
          if (!hasExited(tracer.child)) {
            const exited = once(tracer.child, 'exit');
            tracer.child.kill('SIGINT');
            const timer = setTimeout(() => tracer.child.kill('SIGKILL'), 10_000);
            await exited;
            clearTimeout(timer);
          }
        }
        const summary = readFileSync(out, 'utf8');
        rmSync(out, { force: true });
        const calls = (name: string): number => {
          const m = new RegExp(`^\\s*[\\d.]+\\s+[\\d.]+\\s+\\d+\\s+(\\d+)\\s+(?:\\d+\\s+)?${name}\\s*$`, 'm').exec(summary);
          return m?.[1] ? Number(m[1]) : 0;
        };
        const fsync = calls('fsync');
        const fdatasync = calls('fdatasync');
        return {
          server: kind,
          images,
          fsync,
          fdatasync,
          perImage: (fsync + fdatasync) / images,
          eventsReceived: HAS_ENDPOINT[kind] ? receiver.get(S.matched) : null,
          summary,
        };
      } finally {
        agent.destroy();
      }
    },
  );
}
