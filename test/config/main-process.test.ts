import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

/** A port that was free a moment ago: listen on 0, note the port, close. */
async function freePort(): Promise<number> {
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as { port: number };
  server.close();
  await once(server, 'close');
  return port;
}

interface Started {
  child: ChildProcess;
  output: () => string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** `node --import tsx src/main.ts <config>` with no REGISTRY_* variables inherited. */
function startMain(configPath: string): Started {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('REGISTRY_')) env[k] = v;
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts', configPath], { cwd: REPO, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout!.on('data', (c: Buffer) => (output += c.toString('utf8')));
  child.stderr!.on('data', (c: Buffer) => (output += c.toString('utf8')));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.on('exit', (code, signal) => resolve({ code, signal }));
  });
  return { child, output: () => output, exited };
}

/** Resolves with the exit, or rejects after `ms`. */
async function exitWithin(started: Started, ms: number) {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`process did not exit within ${ms} ms; output:\n${started.output()}`)), ms);
  });
  try {
    return await Promise.race([started.exited, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** Stops a child this test started, by its pid, if it is still running. */
function stopIfRunning(started: Started | undefined): void {
  if (started && started.child.exitCode === null && started.child.signalCode === null) started.child.kill('SIGKILL');
}

describe('src/main.ts as a process', () => {
  let dir: string;
  const running: Started[] = [];
  before(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'dockyard-main-'));
  });
  after(async () => {
    for (const s of running) stopIfRunning(s);
    await rm(dir, { recursive: true, force: true });
  });

  it('serves /v2/ on the configured address and exits 0 on SIGTERM', async () => {
    const port = await freePort();
    const config = path.join(dir, 'ok.yml');
    await writeFile(
      config,
      ['version: 0.1', 'log:', '  level: warn', 'http:', `  addr: 127.0.0.1:${port}`, 'storage:', '  filesystem:', `    rootdirectory: ${path.join(dir, 'data')}`, ''].join('\n'),
    );
    const started = startMain(config);
    running.push(started);

    let res: Response | undefined;
    for (let attempt = 0; attempt < 150 && res === undefined; attempt++) {
      if (started.child.exitCode !== null) assert.fail(`registry exited early:\n${started.output()}`);
      try {
        res = await fetch(`http://127.0.0.1:${port}/v2/`);
      } catch {
        await new Promise((r) => setTimeout(r, 100));
      }
    }
    assert.ok(res, `registry never answered on port ${port}:\n${started.output()}`);
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('docker-distribution-api-version'), 'registry/2.0');
    await res.arrayBuffer(); // leaves an idle keep-alive connection open: shutdown must not wait on it

    started.child.kill('SIGTERM');
    const { code, signal } = await exitWithin(started, 5_000);
    assert.equal(signal, null, `killed by ${signal}:\n${started.output()}`);
    assert.equal(code, 0, started.output());
  });

  it('exits non-zero, naming the key, when the configuration has an unknown key', async () => {
    const config = path.join(dir, 'unknown.yml');
    await writeFile(config, `http:\n  addr: 127.0.0.1:${await freePort()}\nstorage:\n  filesystem:\n    rootdirectory: ${path.join(dir, 'data2')}\nbogusky: 1\n`);
    const started = startMain(config);
    running.push(started);
    const { code } = await exitWithin(started, 10_000);
    assert.notEqual(code, 0);
    assert.match(started.output(), /bogusky/);
  });

  it('exits non-zero, naming the key, when a duration is malformed', async () => {
    const config = path.join(dir, 'duration.yml');
    await writeFile(config, `http:\n  addr: 127.0.0.1:${await freePort()}\nstorage:\n  maintenance:\n    uploadpurging:\n      interval: every day\n`);
    const started = startMain(config);
    running.push(started);
    const { code } = await exitWithin(started, 10_000);
    assert.notEqual(code, 0);
    assert.match(started.output(), /storage\.maintenance\.uploadpurging\.interval/);
  });

  it("exits non-zero, naming the key, for a Distribution config with auth.silly (a security key it does not implement)", async () => {
    const config = path.join(dir, 'silly.yml');
    await writeFile(
      config,
      `http:\n  addr: 127.0.0.1:${await freePort()}\nstorage:\n  filesystem:\n    rootdirectory: ${path.join(dir, 'data3')}\nauth:\n  silly:\n    realm: silly-realm\n    service: silly-service\n`,
    );
    const started = startMain(config);
    running.push(started);
    const { code } = await exitWithin(started, 10_000);
    assert.notEqual(code, 0);
    assert.match(started.output(), /"auth\.silly"/);
    assert.doesNotMatch(started.output(), /\n\s+at /, 'a configuration refusal is one line, not a stack trace');
  });

  it('exits non-zero, naming the key, when the htpasswd file cannot be read', async () => {
    const config = path.join(dir, 'htpasswd.yml');
    const missing = path.join(dir, 'no-such-htpasswd');
    await writeFile(
      config,
      `http:\n  addr: 127.0.0.1:${await freePort()}\nstorage:\n  filesystem:\n    rootdirectory: ${path.join(dir, 'data4')}\nauth:\n  htpasswd:\n    realm: r\n    path: ${missing}\n`,
    );
    const started = startMain(config);
    running.push(started);
    const { code } = await exitWithin(started, 10_000);
    assert.notEqual(code, 0);
    assert.match(started.output(), /"auth\.htpasswd\.path".*no-such-htpasswd/);
  });

  it('exits non-zero with a message when the configuration file is missing', async () => {
    const started = startMain(path.join(dir, 'does-not-exist.yml'));
    running.push(started);
    const { code } = await exitWithin(started, 10_000);
    assert.notEqual(code, 0);
    assert.match(started.output(), /does-not-exist\.yml/);
  });
});
