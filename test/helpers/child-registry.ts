import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { writeFile } from 'node:fs/promises';
import { createServer, type AddressInfo } from 'node:net';
import * as path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { DOCKYARD_ENTRY } from './entry.ts';

/** The project root, where `src/main.ts` lives. */
const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

/** A port that was free a moment ago: listen on 0, read the number, close. */
export async function freePort(): Promise<number> {
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  server.close();
  await once(server, 'close');
  return port;
}

/** Writes a config file (JSON is YAML) and returns its path. */
export async function writeConfig(dir: string, config: Record<string, unknown>, name = 'config.yml'): Promise<string> {
  const file = path.join(dir, name);
  await writeFile(file, JSON.stringify(config, null, 2));
  return file;
}

/**
 * The registry as its own process (`node dist/main.js config.yml`, or src/main.ts through tsx: entry.ts), so that a test can
 * kill it for real (SIGKILL) and start it again on the same storage and config.
 */
export class ChildRegistry {
  private printed = '';

  private constructor(
    private readonly child: ChildProcess,
    readonly url: string,
    private readonly exited: Promise<unknown>,
  ) {
    child.stdout?.on('data', (c: Buffer) => (this.printed += c.toString('utf8')));
    child.stderr?.on('data', (c: Buffer) => (this.printed += c.toString('utf8')));
  }

  get pid(): number {
    return this.child.pid!;
  }

  /** Everything the process printed so far, stdout and stderr as they came (for tests of its logs). */
  get output(): string {
    return this.printed;
  }

  /** What the process printed so far (for failure messages). */
  get log(): string {
    return this.printed.slice(-4000);
  }

  /**
   * Starts the process and waits (up to `timeoutMs`) until `GET /v2/` answers (any status but a
   * 5xx: with auth on it is a 401) as a registry does, with its API version header: another
   * server that took the port meanwhile (a free port is only free when it was asked) answers
   * without it, and the child's EADDRINUSE exit then ends the wait with its log.
   * `env` is added to this process's environment.
   */
  static async start(configFile: string, port: number, timeoutMs = 30_000, env: NodeJS.ProcessEnv = {}): Promise<ChildRegistry> {
    const child = spawn(process.execPath, [...DOCKYARD_ENTRY, configFile], {
      cwd: ROOT,
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, NODE_OPTIONS: '', ...env },
    });
    const exited = once(child, 'exit');
    const registry = new ChildRegistry(child, `http://127.0.0.1:${port}`, exited);
    let gone = false;
    void exited.then(() => (gone = true));
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      if (gone) throw new Error(`registry exited during start-up:\n${registry.log}`);
      try {
        const res = await fetch(`${registry.url}/v2/`, { signal: AbortSignal.timeout(1_000) });
        await res.arrayBuffer();
        if (res.status < 500 && res.headers.get('docker-distribution-api-version') === 'registry/2.0') return registry;
      } catch {
        // not listening yet
      }
      if (Date.now() > deadline) {
        await registry.kill();
        throw new Error(`registry did not answer GET /v2/ within ${timeoutMs} ms:\n${registry.log}`);
      }
      await sleep(50);
    }
  }

  /** kill -9, and wait for the process to be gone. */
  async kill(): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    process.kill(this.pid, 'SIGKILL');
    await this.exited;
  }

  /** SIGTERM (a clean shutdown); SIGKILL if it has not exited within `timeoutMs`. */
  async stop(timeoutMs = 10_000): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    process.kill(this.pid, 'SIGTERM');
    const timer = setTimeout(() => {
      if (this.child.exitCode === null && this.child.signalCode === null) process.kill(this.pid, 'SIGKILL');
    }, timeoutMs);
    await this.exited;
    clearTimeout(timer);
  }
}
