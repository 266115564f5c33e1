/**
 * Server child processes and temp directories for the benchmarks: free loopback ports, a clean
 * environment, spawning and tracking a server, waiting until it answers, stopping it by pid, and
 * the last-resort cleanup (and the overall timeout, Ctrl-C and failure paths that call it).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, rm } from 'node:fs/promises';
import * as net from 'node:net';
import * as path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { benchTmpDir } from './env.ts';

/** Children not yet exited, and temp directories not yet removed: what cleanup() clears. */
const live = new Set<ChildProcess>();
const tempDirs = new Set<string>();

export async function freePort(): Promise<number> {
  const srv = net.createServer();
  srv.listen(0, '127.0.0.1');
  await once(srv, 'listening');
  const port = (srv.address() as net.AddressInfo).port;
  srv.close();
  await once(srv, 'close');
  return port;
}

/** The environment without REGISTRY_* (both servers read REGISTRY_* overrides). */
export function cleanEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('REGISTRY_')) env[k] = v;
  return env;
}

export interface ServerProcess {
  child: ChildProcess;
  pid: number;
  /** The last 4000 characters the server wrote to stderr. */
  stderrTail: () => string;
}

export function hasExited(child: ChildProcess): boolean {
  return child.exitCode !== null || child.signalCode !== null;
}

/**
 * Spawns a server (stdout ignored, stderr kept as a tail) and tracks it until it exits.
 * `command` must be the server itself, not a wrapper, so that the pid is the server's.
 */
export function spawnServer(label: string, command: string, args: string[], opts: { cwd: string; env: NodeJS.ProcessEnv }): ServerProcess {
  const child = spawn(command, args, { cwd: opts.cwd, env: opts.env, stdio: ['ignore', 'ignore', 'pipe'] });
  live.add(child);
  child.once('exit', () => live.delete(child));
  let tail = '';
  child.stderr?.on('data', (d: Buffer) => {
    tail = (tail + d.toString('utf8')).slice(-4000);
  });
  const pid = child.pid;
  if (pid === undefined) throw new Error(`${label}: failed to spawn`);
  return { child, pid, stderrTail: () => tail };
}

/** Polls `probe` (true: ready) every 100 ms until it answers, the server exits, or `timeoutMs` passes. */
export async function waitReady(s: ServerProcess, label: string, timeoutMs: number, probe: () => Promise<boolean>): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (let attempt = 0; attempt < 1000 && Date.now() < deadline; attempt++) {
    if (hasExited(s.child)) {
      throw new Error(`${label} exited during startup (${s.child.exitCode ?? s.child.signalCode}): ${s.stderrTail()}`);
    }
    try {
      if (await probe()) return;
    } catch {
      // not listening yet
    }
    await sleep(100);
  }
  throw new Error(`${label} not ready within ${timeoutMs} ms: ${s.stderrTail()}`);
}

/** SIGTERM, then SIGKILL after `timeoutMs`; resolves once the process has exited. */
export async function stopServer(s: ServerProcess, timeoutMs: number): Promise<void> {
  if (hasExited(s.child)) return;
  const exited = once(s.child, 'exit');
  s.child.kill('SIGTERM');
  const timer = setTimeout(() => s.child.kill('SIGKILL'), timeoutMs);
  await exited;
  clearTimeout(timer);
}

/**
 * One server's life: a fresh temp directory, `start` in it, `use`, then the server stopped and
 * the directory removed (with `keepDir`, left for removeKeptDirs or cleanup). When `use` fails,
 * the server's stderr tail is printed first.
 *
 * `keepDir` is for rows that create many files: removing a tree of ten thousand entries makes
 * the kernel's inode allocation slow for a while after (ext4 here: creating a file took 28 µs
 * before such a removal and 439 µs five seconds after, BENCHMARKS.md), and the next server's
 * row would pay for this one's removal.
 */
export async function withServer<S extends ServerProcess, T>(
  opts: { label: string; dirPrefix: string; stopTimeoutMs: number; keepDir?: boolean },
  start: (dir: string) => Promise<S>,
  use: (server: S) => Promise<T>,
): Promise<T> {
  const dir = await mkdtemp(path.join(benchTmpDir(), opts.dirPrefix));
  tempDirs.add(dir);
  try {
    const server = await start(dir);
    try {
      return await use(server);
    } catch (err) {
      const tail = server.stderrTail();
      if (tail) process.stderr.write(`--- ${opts.label} stderr ---\n${tail}\n`);
      throw err;
    } finally {
      await stopServer(server, opts.stopTimeoutMs);
    }
  } finally {
    if (!opts.keepDir) {
      await rm(dir, { recursive: true, force: true });
      tempDirs.delete(dir);
    }
  }
}

/** Removes every directory withServer still holds (those it kept with `keepDir`), once no row is measured any more. */
export async function removeKeptDirs(): Promise<void> {
  for (const dir of [...tempDirs]) {
    await rm(dir, { recursive: true, force: true });
    tempDirs.delete(dir);
  }
}

/** Kills every server still running (SIGKILL) and removes every temp directory still there. */
export async function cleanup(): Promise<void> {
  for (const child of live) child.kill('SIGKILL');
  await removeKeptDirs();
}

/**
 * Arms the overall timeout (`onTimeout`, then cleanup, exit 1) and Ctrl-C (cleanup, exit 130).
 * Returns the function that disarms the timeout.
 */
export function guardRun(timeoutMs: number, onTimeout: () => Promise<unknown>): () => void {
  const overall = setTimeout(() => {
    void onTimeout()
      .catch(() => undefined)
      .then(cleanup)
      .finally(() => process.exit(1));
  }, timeoutMs);
  process.once('SIGINT', () => void cleanup().finally(() => process.exit(130)));
  return () => clearTimeout(overall);
}

/** Runs `main`; on failure prints `<name>: <stack>`, runs `onFailure`, cleans up and exits 1. */
export function runMain(name: string, main: () => Promise<void>, onFailure: () => Promise<unknown> = async () => undefined): void {
  main().catch(async (err: unknown) => {
    process.stderr.write(`${name}: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    await onFailure().catch(() => undefined);
    await cleanup();
    process.exit(1);
  });
}
