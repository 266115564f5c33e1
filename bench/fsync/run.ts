/** One run: a fresh server of one kind, then (a) sequential small pushes, (b) concurrent small pushes, (c) one big blob. */
import * as http from 'node:http';
import { readFileSync, readlinkSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import * as path from 'node:path';
import { cpuSeconds } from '../lib/proc.ts';
import { freePort, waitReady, withServer, type ServerProcess } from '../lib/processes.ts';
import { registryConfigYaml, spawnDistribution, spawnDockyard } from '../lib/registries.ts';
import { expect, now, request } from './http.ts';
import { pushBigBlob, pushImage } from './push.ts';
import { BIG_BLOB_MIB, CONCURRENCY, IMAGES, MiB, PHASE_TIMEOUT_MS, READY_TIMEOUT_MS, STOP_TIMEOUT_MS, type ServerKind } from './settings.ts';

interface Started extends ServerProcess {
  base: URL;
}

async function startServer(kind: ServerKind, dir: string, dockyardEntry: string): Promise<Started> {
  const storage = path.join(dir, 'storage');
  await mkdir(storage, { recursive: true });
  const addr = `127.0.0.1:${await freePort()}`;
  const configPath = path.join(dir, 'config.yml');
  let yaml = registryConfigYaml({ addr, storage, disableAccessLog: true });
  if (kind !== 'distribution') {
    // storage.filesystem.fsync, spelled out both ways (true is the default).
    const rootLine = `    rootdirectory: ${JSON.stringify(storage)}\n`;
    if (!yaml.includes(rootLine)) throw new Error('config.yml: rootdirectory line not found');
    yaml = yaml.replace(rootLine, `${rootLine}    fsync: ${kind === 'dockyard-fsync'}\n`);
  }
  await writeFile(configPath, yaml);
  const server =
    kind === 'distribution'
      ? spawnDistribution(kind, configPath, dir)
      : spawnDockyard(kind, [...(dockyardEntry.endsWith('.ts') ? ['--import', 'tsx'] : []), dockyardEntry, configPath]);
  return { ...server, base: new URL(`http://${addr}`) };
}

/** The pid must be the server itself (node running Dockyard's entry, or docker-registry), not a wrapper. */
function cmdlineOf(pid: number, kind: ServerKind): string {
  const exe = readlinkSync(`/proc/${pid}/exe`);
  const cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter(Boolean).join(' ');
  const ok = kind === 'distribution' ? /docker-registry/.test(exe) || /docker-registry/.test(cmdline) : /node/.test(exe) && /main\.(js|ts)/.test(cmdline);
  if (!ok) throw new Error(`pid ${pid} is not the ${kind} server: exe ${exe}, cmdline ${cmdline}`);
  return cmdline;
}

export interface PhaseResult {
  seconds: number;
  serverCpuSeconds: number;
}
export interface RunResult {
  server: ServerKind;
  round: number;
  pid: number;
  cmdline: string;
  sequential: PhaseResult & { images: number; imagesPerSecond: number; msPerImageP50: number; msPerImageMax: number };
  concurrent: PhaseResult & { images: number; clients: number; imagesPerSecond: number };
  bigBlob: PhaseResult & { bytes: number; MBps: number };
}

function deadlineCheck(deadline: number, what: string): void {
  if (Date.now() > deadline) throw new Error(`${what}: over the phase limit of ${PHASE_TIMEOUT_MS / 1000} s`);
}

/** Reads a tag back and checks it names the manifest pushed (a check that the pushes really landed). */
async function checkTag(agent: http.Agent, base: URL, repo: string, tag: string, digest: string): Promise<void> {
  const r = expect(
    await request(agent, new URL(`/v2/${repo}/manifests/${tag}`, base), 'HEAD', { Accept: 'application/vnd.oci.image.manifest.v1+json' }),
    200,
    `HEAD ${repo}:${tag}`,
  );
  if (r.headers['docker-content-digest'] !== digest) throw new Error(`${repo}:${tag} resolves to ${r.headers['docker-content-digest']}, pushed ${digest}`);
}

export function runOne(kind: ServerKind, round: number, dockyardEntry: string, big: { salt: number; digest: string }): Promise<RunResult> {
  return withServer(
    { label: kind, dirPrefix: `fsync-bench-${kind}-`, stopTimeoutMs: STOP_TIMEOUT_MS },
    (dir) => startServer(kind, dir, dockyardEntry),
    async (server) => {
      const base = server.base;
      const agent = new http.Agent({ keepAlive: true, maxSockets: CONCURRENCY });
      try {
        await waitReady(server, kind, READY_TIMEOUT_MS, async () => (await request(agent, new URL('/v2/', base), 'GET', {})).status === 200);
        const cmdline = cmdlineOf(server.pid, kind);
        // Warm-up, not measured: a few images so both runtimes have their code paths hot.
        for (let i = 0; i < 5; i++) await pushImage(agent, base, 'bench/warmup', `w${i}`);

        // (a) IMAGES images, one after another, one client.
        let deadline = Date.now() + PHASE_TIMEOUT_MS;
        const perImage: number[] = [];
        let cpu0 = cpuSeconds(server.pid);
        let t0 = now();
        let last = '';
        for (let i = 0; i < IMAGES; i++) {
          const t = now();
          last = await pushImage(agent, base, 'bench/seq', `t${i}`);
          perImage.push((now() - t) * 1000);
          deadlineCheck(deadline, '(a) sequential pushes');
        }
        let seconds = now() - t0;
        const seqCpu = cpuSeconds(server.pid) - cpu0;
        await checkTag(agent, base, 'bench/seq', `t${IMAGES - 1}`, last);
        perImage.sort((x, y) => x - y);
        const sequential = {
          images: IMAGES,
          seconds,
          serverCpuSeconds: seqCpu,
          imagesPerSecond: IMAGES / seconds,
          msPerImageP50: perImage[Math.floor(perImage.length / 2)] ?? NaN,
          msPerImageMax: perImage[perImage.length - 1] ?? NaN,
        };

        // (b) the same number of images from CONCURRENCY clients, each its own repository.
        deadline = Date.now() + PHASE_TIMEOUT_MS;
        let next = 0;
        const lastOf = new Map<string, { tag: string; digest: string }>();
        cpu0 = cpuSeconds(server.pid);
        t0 = now();
        await Promise.all(
          Array.from({ length: CONCURRENCY }, async (_, c) => {
            const repo = `bench/conc-${c}`;
            for (let n = 0; n < IMAGES && next < IMAGES; n++) {
              const i = next++;
              const digest = await pushImage(agent, base, repo, `t${i}`);
              lastOf.set(repo, { tag: `t${i}`, digest });
              deadlineCheck(deadline, '(b) concurrent pushes');
            }
          }),
        );
        seconds = now() - t0;
        const concCpu = cpuSeconds(server.pid) - cpu0;
        for (const [repo, { tag, digest }] of lastOf) await checkTag(agent, base, repo, tag, digest);
        const concurrent = { images: IMAGES, clients: CONCURRENCY, seconds, serverCpuSeconds: concCpu, imagesPerSecond: IMAGES / seconds };

        // (c) one big blob, streamed: POST -> PATCH -> PUT ?digest=; time is POST to the PUT's 201.
        cpu0 = cpuSeconds(server.pid);
        t0 = now();
        const timer = setTimeout(() => agent.destroy(), PHASE_TIMEOUT_MS);
        try {
          await pushBigBlob(agent, base, 'bench/big', BIG_BLOB_MIB, big.salt, big.digest);
        } finally {
          clearTimeout(timer);
        }
        seconds = now() - t0;
        const bigCpu = cpuSeconds(server.pid) - cpu0;
        const head = expect(await request(agent, new URL(`/v2/bench/big/blobs/${big.digest}`, base), 'HEAD', {}), 200, 'HEAD big blob');
        if (Number(head.headers['content-length']) !== BIG_BLOB_MIB * MiB) throw new Error(`big blob: Content-Length ${head.headers['content-length']}`);
        const bigBlob = { bytes: BIG_BLOB_MIB * MiB, seconds, serverCpuSeconds: bigCpu, MBps: (BIG_BLOB_MIB * MiB) / 1e6 / seconds };

        return { server: kind, round, pid: server.pid, cmdline, sequential, concurrent, bigBlob };
      } finally {
        agent.destroy();
      }
    },
  );
}
