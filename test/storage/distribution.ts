import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { access, mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { freePort, writeConfig } from '../helpers/child-registry.ts';
import { startTestRegistry } from '../helpers/registry.ts';
import { Skopeo, type Blob } from '../e2e/skopeo-fixtures.ts';

/** CNCF Distribution 2.8.2 (Debian's `docker-registry`) beside Dockyard on one root: the tests' side of it. */

export const DISTRIBUTION = '/usr/bin/docker-registry';

/** CNCF Distribution 2.8.2 (Debian's `docker-registry`) as a child process on `root`. */
export class Distribution {
  private output = '';
  private constructor(private readonly child: ChildProcess, readonly url: string, private readonly exited: Promise<unknown>) {
    child.stdout?.on('data', (c: Buffer) => (this.output += c.toString('utf8')));
    child.stderr?.on('data', (c: Buffer) => (this.output += c.toString('utf8')));
  }

  /** Its config file for `root`, in `work`. */
  static config(work: string, root: string, port = 5000): Promise<string> {
    return writeConfig(work, {
      version: 0.1,
      log: { level: 'error' },
      storage: { filesystem: { rootdirectory: root }, delete: { enabled: true } },
      http: { addr: `127.0.0.1:${port}` },
    }, 'distribution.yml');
  }

  /** `docker-registry garbage-collect <config> [flags]` on `root`: its exit code and what it printed. */
  static async garbageCollect(work: string, root: string, ...flags: string[]): Promise<{ code: number | null; output: string }> {
    const child = spawn(DISTRIBUTION, ['garbage-collect', await Distribution.config(work, root), ...flags], { stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (c: Buffer) => (output += c.toString('utf8')));
    child.stderr.on('data', (c: Buffer) => (output += c.toString('utf8')));
    const [code] = (await once(child, 'exit')) as [number | null];
    return { code, output };
  }

  static async start(work: string, root: string): Promise<Distribution> {
    const port = await freePort();
    const config = await Distribution.config(work, root, port);
    const child = spawn(DISTRIBUTION, ['serve', config], { stdio: ['ignore', 'pipe', 'pipe'] });
    const d = new Distribution(child, `http://127.0.0.1:${port}`, once(child, 'exit'));
    const deadline = Date.now() + 20_000;
    for (;;) {
      if (child.exitCode !== null) throw new Error(`Distribution exited during start-up:\n${d.output}`);
      try {
        const res = await fetch(`${d.url}/v2/`, { signal: AbortSignal.timeout(1_000) });
        await res.arrayBuffer();
        if (res.status === 200) return d;
      } catch {
        // not listening yet
      }
      if (Date.now() > deadline) {
        await d.stop();
        throw new Error(`Distribution did not answer within 20 s:\n${d.output}`);
      }
      await sleep(50);
    }
  }

  get host(): string {
    return new URL(this.url).host;
  }

  async stop(): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    process.kill(this.child.pid!, 'SIGTERM');
    await this.exited;
  }
}

export async function get(base: string, p: string, accept?: string): Promise<{ status: number; type: string | null; digest: string | null; body: Buffer }> {
  const res = await fetch(`${base}${p}`, { headers: accept ? { accept } : {} });
  return { status: res.status, type: res.headers.get('content-type'), digest: res.headers.get('docker-content-digest'), body: Buffer.from(await res.arrayBuffer()) };
}

/** `base` serves the manifest under `reference` and every blob byte for byte. */
export async function assertServes(base: string, name: string, reference: string, manifest: Blob, mediaType: string, blobs: Blob[]): Promise<void> {
  const m = await get(base, `/v2/${name}/manifests/${reference}`, mediaType);
  assert.equal(m.status, 200, `GET manifest ${name}:${reference} from ${base}: ${m.body.toString('utf8').slice(0, 300)}`);
  assert.equal(m.type, mediaType, `content type of ${name}:${reference}`);
  assert.equal(m.digest, manifest.digest);
  assert.ok(m.body.equals(manifest.data), `manifest ${name}:${reference} bytes differ`);
  for (const b of blobs) {
    const res = await get(base, `/v2/${name}/blobs/${b.digest}`);
    assert.equal(res.status, 200, `GET blob ${b.digest} in ${name}`);
    assert.ok(res.body.equals(b.data), `blob ${b.digest} in ${name} differs`);
  }
}

export async function catalog(base: string): Promise<string[]> {
  return ((await (await fetch(`${base}/v2/_catalog`)).json()) as { repositories: string[] }).repositories;
}

export async function tags(base: string, name: string): Promise<string[]> {
  const res = await fetch(`${base}/v2/${name}/tags/list`);
  assert.equal(res.status, 200, `tags/list of ${name}`);
  return ((await res.json()) as { tags: string[] | null }).tags ?? [];
}

/** A blob upload the plain way (POST, then PUT with the digest), as any client does it. */
export async function pushBlob(base: string, name: string, b: Blob): Promise<void> {
  const start = await fetch(`${base}/v2/${name}/blobs/uploads/`, { method: 'POST' });
  await start.arrayBuffer();
  assert.equal(start.status, 202);
  const location = new URL(start.headers.get('location')!, base);
  location.searchParams.set('digest', b.digest);
  const put = await fetch(location, { method: 'PUT', body: new Uint8Array(b.data), headers: { 'content-type': 'application/octet-stream' } });
  assert.equal(put.status, 201, `PUT blob: ${await put.text()}`);
}

/** Runs `task` with Dockyard on `root` (deletes enabled), then stops it: one registry at a time on a root. */
export async function withDockyard<T>(root: string, task: (url: string, host: string) => Promise<T>): Promise<T> {
  const registry = await startTestRegistry({ storage: { filesystem: { rootdirectory: root }, delete: { enabled: true } } });
  try {
    return await task(registry.url, `127.0.0.1:${registry.port}`);
  } finally {
    await registry.stop(); // removes only its own temp dir, not `root`
  }
}

/** A fresh work directory with the root the two registries share and a sandboxed skopeo; fails where Distribution is missing. */
export async function sharedRoot(prefix: string): Promise<{ work: string; root: string; skopeo: Skopeo }> {
  await access(DISTRIBUTION).catch(() => assert.fail(`${DISTRIBUTION} is missing: apt-get install -y docker-registry`));
  const work = await mkdtemp(path.join(tmpdir(), prefix));
  return { work, root: path.join(work, 'root'), skopeo: await Skopeo.create(path.join(work, 'skopeo')) };
}
