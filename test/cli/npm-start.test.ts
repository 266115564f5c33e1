import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, describe, it } from 'node:test';
import { freePort } from '../helpers/child-registry.ts';
import { cleanEnv, exitWithin, killIfRunning, ROOT, start, type Started } from './run-cli.ts';

/** Milliseconds from now until GET /v2/ answers 200 on `port`. */
async function msUntilAnswering(port: number, started: Started, ms = 30_000): Promise<number> {
  const t0 = Date.now();
  for (;;) {
    if (started.child.exitCode !== null) assert.fail(`exited during start-up:\n${started.stderr()}\n${started.stdout()}`);
    try {
      const res = await fetch(`http://127.0.0.1:${port}/v2/`);
      await res.arrayBuffer();
      if (res.status === 200) return Date.now() - t0;
    } catch {
      // not listening yet
    }
    if (Date.now() - t0 > ms) assert.fail(`no answer on ${port} within ${ms} ms:\n${started.stderr()}`);
    await sleep(20);
  }
}

/** Whether something accepts connections on 127.0.0.1:`port`. */
function listening(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    socket.once('connect', () => (socket.destroy(), resolve(true)));
    socket.once('error', () => resolve(false));
  });
}

/** The pids whose parent is `pid`. */
function childrenOf(pid: number): number[] {
  const ps = spawnSync('ps', ['-o', 'pid=', '--ppid', String(pid)], { encoding: 'utf8' });
  return ps.stdout.split('\n').map((l) => Number(l.trim())).filter((n) => n > 0);
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

describe('npm start', () => {
  let dir: string;
  const started: Started[] = [];
  before(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'dockyard-npm-start-'));
    // The tree as `npm ci` leaves it: built (prepare). A no-op when dist/ is newer than src/.
    const build = spawnSync(process.execPath, ['scripts/ensure-built.mjs'], { cwd: ROOT, encoding: 'utf8' });
    assert.equal(build.status, 0, build.stderr);
  });
  after(async () => {
    for (const s of started) killIfRunning(s);
    await rm(dir, { recursive: true, force: true });
  });

  const config = async (name: string) => {
    const port = await freePort();
    const file = path.join(dir, name);
    await writeFile(file, `log:\n  level: warn\nhttp:\n  addr: 127.0.0.1:${port}\nstorage:\n  filesystem:\n    rootdirectory: ${path.join(dir, name, '..', `${name}-data`)}\n`);
    return { file, port };
  };

  it('serves without rebuilding a built tree, in a few seconds, and SIGINT stops it with exit 0', async () => {
    const { file, port } = await config('timing.yml');
    const npm = start('npm', ['start', '--silent', '--', file], cleanEnv());
    started.push(npm);
    const ms = await msUntilAnswering(port, npm);
    console.log(`# npm start answered GET /v2/ ${ms} ms after spawn`);
    assert.doesNotMatch(npm.stderr(), /building dist/, 'a built tree was rebuilt');
    // Under 2 s on an idle machine; generous here, where other suites share the cores. A rebuild takes 15-60 s.
    assert.ok(ms < 8_000, `npm start took ${ms} ms`);
    npm.child.kill('SIGINT');
    const exit = await exitWithin(npm, 15_000);
    assert.equal(exit.code, 0, exit.stderr);
    assert.equal(await listening(port), false);
  });

  it('SIGTERM to the npm start process stops the server: the port is free and no process is left', async () => {
    const { file, port } = await config('sigterm.yml');
    const npm = start('npm', ['start', '--silent', '--', file], cleanEnv());
    started.push(npm);
    await msUntilAnswering(port, npm);
    const servers = childrenOf(npm.child.pid!);
    assert.equal(servers.length, 1, `npm start has ${servers.length} children`);
    const server = servers[0]!;
    const t0 = Date.now();
    npm.child.kill('SIGTERM');
    const exit = await exitWithin(npm, 15_000);
    console.log(`# npm start exited ${Date.now() - t0} ms after SIGTERM`);
    assert.equal(exit.code, 0, `npm start exited ${exit.code ?? exit.signal}: ${exit.stderr}`);
    for (let i = 0; i < 50 && alive(server); i++) await sleep(100);
    assert.equal(alive(server), false, `the server (pid ${server}) outlived npm start`);
    assert.equal(await listening(port), false, `port ${port} is still listening`);
  });
});
