/** One measured run: a fresh server, one blob pushed and pulled back, its RSS sampled throughout. */
import { createHash } from 'node:crypto';
import { readFileSync, readlinkSync, realpathSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import * as path from 'node:path';
import { DISTRIBUTION_BIN } from '../lib/env.ts';
import { freePort, waitReady, withServer, type ServerProcess } from '../lib/processes.ts';
import { procStatusKiB } from '../lib/proc.ts';
import { registryConfigYaml, spawnDistribution, spawnDockyard } from '../lib/registries.ts';
import { r1 } from '../lib/stats.ts';
import { blobStream } from './data.ts';
import { call, expectStatus, locationOf, now, text } from './http.ts';
import { RssSampler } from './rss-sampler.ts';
import { BLOB_MIB, DOCKYARD_ENTRY, MiB, READY_TIMEOUT_MS, STOP_TIMEOUT_MS, type ServerKind } from './settings.ts';

interface Started extends ServerProcess {
  base: URL;
}

async function startServer(kind: ServerKind, dir: string): Promise<Started> {
  const storage = path.join(dir, 'storage');
  await mkdir(storage, { recursive: true });
  const port = await freePort();
  const addr = `127.0.0.1:${port}`;
  let server: ServerProcess;
  if (kind === 'dockyard') {
    const args = DOCKYARD_ENTRY.endsWith('.ts') ? ['--import', 'tsx', DOCKYARD_ENTRY] : [DOCKYARD_ENTRY];
    server = spawnDockyard(kind, args, {
      REGISTRY_HTTP_ADDR: addr,
      REGISTRY_STORAGE_FILESYSTEM_ROOTDIRECTORY: storage,
      REGISTRY_LOG_LEVEL: 'error',
    });
  } else {
    const config = path.join(dir, 'config.yml');
    await writeFile(config, registryConfigYaml({ addr, storage, disableAccessLog: true }));
    server = spawnDistribution(kind, config, dir);
  }
  return { ...server, base: new URL(`http://${addr}`) };
}

/** Confirms the sampled pid is the server binary itself (node running Dockyard's entry, or docker-registry). */
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

export interface RunResult {
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

const kibToMiB = (k: number) => r1(k / 1024);

export function runOne(kind: ServerKind, round: number, digest: string): Promise<RunResult> {
  return withServer(
    { label: kind, dirPrefix: `blob-bench-${kind}-`, stopTimeoutMs: STOP_TIMEOUT_MS },
    (dir) => startServer(kind, dir),
    async (server) => {
      const sampler = new RssSampler(server.pid);
      try {
        return await measure(kind, round, digest, server, sampler);
      } finally {
        await sampler.stop();
      }
    },
  );
}

async function measure(kind: ServerKind, round: number, digest: string, server: Started, sampler: RssSampler): Promise<RunResult> {
  const base = server.base;
  await waitReady(server, kind, READY_TIMEOUT_MS, async () => {
    const reply = await call(new URL('/v2/', base), 'GET', {});
    await text(reply.res);
    return reply.status === 200;
  });
  const cmdline = checkIdentity(server.pid, kind);
  const idle = sampler.enter('idle') ?? 0;
  const repo = `bench/blob-r${round}`;

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
}
