import { spawn, type ChildProcess } from 'node:child_process';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { DOCKYARD_ENTRY } from '../helpers/entry.ts';

/** The project root, where src/main.ts and package.json are. */
export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

/** This environment without REGISTRY_* variables (a test names its config file itself). */
export function cleanEnv(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { NODE_OPTIONS: '' };
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('REGISTRY_') && k !== 'NODE_OPTIONS') env[k] = v;
  return { ...env, ...extra };
}

export interface Finished {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** A started process whose output is collected, and its end. */
export interface Started {
  child: ChildProcess;
  stdout: () => string;
  stderr: () => string;
  exited: Promise<Finished>;
}

export function start(command: string, args: string[], env: NodeJS.ProcessEnv = cleanEnv()): Started {
  const child = spawn(command, args, { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (c: Buffer) => (stdout += c.toString('utf8')));
  child.stderr!.on('data', (c: Buffer) => (stderr += c.toString('utf8')));
  const exited = new Promise<Finished>((resolve) => child.on('close', (code, signal) => resolve({ code, signal, stdout, stderr })));
  return { child, stdout: () => stdout, stderr: () => stderr, exited };
}

/** `dockyard <args>` as the tests and benches run it (dist/main.js, or src/main.ts through tsx: entry.ts). */
export function startCli(args: string[], env?: NodeJS.ProcessEnv): Started {
  return start(process.execPath, [...DOCKYARD_ENTRY, ...args], env);
}

/** Runs `dockyard <args>` to its end (killed after `ms`). */
export async function runCli(args: string[], ms = 30_000, env?: NodeJS.ProcessEnv): Promise<Finished> {
  const started = startCli(args, env);
  const timer = setTimeout(() => started.child.kill('SIGKILL'), ms);
  try {
    return await started.exited;
  } finally {
    clearTimeout(timer);
  }
}

/** Resolves with the end, or rejects after `ms` (the process is left to the caller's cleanup). */
export async function exitWithin(started: Started, ms: number): Promise<Finished> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`did not exit within ${ms} ms; stderr:\n${started.stderr()}\nstdout:\n${started.stdout().slice(-3000)}`)), ms);
  });
  try {
    return await Promise.race([started.exited, late]);
  } finally {
    clearTimeout(timer);
  }
}

/** Stops a process this test started, by its pid, if it still runs. */
export function killIfRunning(started: Started | undefined): void {
  if (started && started.child.exitCode === null && started.child.signalCode === null) started.child.kill('SIGKILL');
}

/** Lines of a stack trace (`    at f (file:1:2)`), which no operator-facing failure may print. */
export const STACK_LINE = /^\s+at .+/m;
