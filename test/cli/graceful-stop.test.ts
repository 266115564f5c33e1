import assert from 'node:assert/strict';
import { Agent, request } from 'node:http';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, describe, it } from 'node:test';
import { ChildRegistry, freePort } from '../helpers/child-registry.ts';
import { randomBlob } from '../helpers/oci.ts';
import { WebhookReceiver } from '../helpers/receiver.ts';
import { exitWithin, killIfRunning, startCli, type Started } from './run-cli.ts';

/** Waits until GET /v2/ answers on `port` (the process may still be starting). */
async function answering(port: number, started: Started, ms = 30_000): Promise<void> {
  const deadline = Date.now() + ms;
  for (;;) {
    if (started.child.exitCode !== null) assert.fail(`exited during start-up:\n${started.stderr()}\n${started.stdout()}`);
    try {
      const res = await fetch(`http://127.0.0.1:${port}/v2/`);
      await res.arrayBuffer();
      return;
    } catch {
      if (Date.now() > deadline) assert.fail(`no answer on ${port}:\n${started.stdout()}`);
      await sleep(50);
    }
  }
}

/**
 * A monolithic blob PUT whose body is sent in `parts` pieces `gapMs` apart; `firstSent` resolves
 * once the head and the first piece are out, the promise with the status and body.
 */
function slowPut(url: string, data: Buffer, parts: number, gapMs: number, agent?: Agent): { firstSent: Promise<void>; done: Promise<{ status: number; body: string }> } {
  let sent!: () => void;
  const firstSent = new Promise<void>((resolve) => (sent = resolve));
  const done = new Promise<{ status: number; body: string }>((resolve, reject) => {
    const req = request(url, { method: 'PUT', ...(agent ? { agent } : {}), headers: { 'content-type': 'application/octet-stream', 'content-length': data.length } }, (res) => {
      let body = '';
      res.setEncoding('utf8').on('data', (c: string) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    const size = Math.ceil(data.length / parts);
    void (async () => {
      for (let i = 0; i < parts; i++) {
        req.write(data.subarray(i * size, (i + 1) * size));
        if (i === 0) sent();
        await sleep(gapMs);
      }
      req.end();
    })();
  });
  return { firstSent, done };
}

describe('dockyard serve stops cleanly on SIGTERM', () => {
  let dir: string;
  let receiver: WebhookReceiver;
  const started: Started[] = [];
  let restarted: ChildRegistry | undefined;
  before(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'dockyard-stop-'));
    receiver = await WebhookReceiver.start();
  });
  after(async () => {
    for (const s of started) killIfRunning(s);
    await restarted?.kill();
    await receiver.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('finishes an upload in flight, exits 0, and the outbox keeps its event', async () => {
    const port = await freePort();
    const config = path.join(dir, 'config.yml');
    await writeFile(
      config,
      [
        'log:',
        '  level: info',
        'http:',
        `  addr: 127.0.0.1:${port}`,
        '  draintimeout: 20s',
        'storage:',
        '  filesystem:',
        `    rootdirectory: ${path.join(dir, 'data')}`,
        'notifications:',
        '  endpoints:',
        '    - name: hook',
        `      url: http://127.0.0.1:${receiver.port}/events`,
        '      backoff: 100ms',
        '',
      ].join('\n'),
    );
    const registry = startCli(['serve', config]);
    started.push(registry);
    await answering(port, registry);

    const start = await fetch(`http://127.0.0.1:${port}/v2/team/app/blobs/uploads/`, { method: 'POST' });
    assert.equal(start.status, 202);
    await start.arrayBuffer();
    const location = new URL(start.headers.get('location')!, `http://127.0.0.1:${port}`);
    const blob = randomBlob(256 * 1024);
    location.searchParams.set('digest', blob.digest);
    // A keep-alive client that never drops its idle connection: the stop must not wait for it.
    const agent = new Agent({ keepAlive: true });
    const put = slowPut(location.href, blob.data, 8, 250, agent); // about 2 s of body
    await put.firstSent;
    await sleep(200); // the request is in the server's hands
    const signalledAt = Date.now();
    registry.child.kill('SIGTERM');

    const { status, body } = await put.done;
    const answeredAt = Date.now();
    assert.equal(status, 201, `the upload in flight was cut: ${body}\n${registry.stdout()}`);
    const exit = await exitWithin(registry, 20_000);
    const stopMs = Date.now() - signalledAt;
    agent.destroy();
    assert.ok(Date.now() - answeredAt < 5_000, `exited ${Date.now() - answeredAt} ms after its last answer (waited on an idle connection?)`);
    assert.equal(exit.signal, null, exit.stderr);
    assert.equal(exit.code, 0, `${exit.stderr}\n${exit.stdout.slice(-2000)}`);
    assert.match(exit.stdout, /"msg":"shutting down"/);
    assert.match(exit.stdout, /"msg":"stopped"/);
    console.log(`# stopped ${stopMs} ms after SIGTERM, the upload in flight finished first`);

    // Its push event was committed before the exit: delivered already, or after a restart.
    const delivered = () => receiver.requests.some((r) => r.raw.includes(blob.digest));
    if (!delivered()) restarted = await ChildRegistry.start(config, port);
    const deadline = Date.now() + 15_000;
    while (!delivered() && Date.now() < deadline) await sleep(100);
    assert.ok(delivered(), `no event for ${blob.digest} reached the receiver (${receiver.requests.length} requests)`);
  });

  it('cuts the requests in flight at once on a second signal, and still exits 0', async () => {
    const port = await freePort();
    const config = path.join(dir, 'twice.yml');
    await writeFile(config, `log:\n  level: warn\nhttp:\n  addr: 127.0.0.1:${port}\n  draintimeout: 60s\nstorage:\n  filesystem:\n    rootdirectory: ${path.join(dir, 'data3')}\n`);
    const registry = startCli(['serve', config]);
    started.push(registry);
    await answering(port, registry);
    const start = await fetch(`http://127.0.0.1:${port}/v2/team/app/blobs/uploads/`, { method: 'POST' });
    await start.arrayBuffer();
    const location = new URL(start.headers.get('location')!, `http://127.0.0.1:${port}`);
    const blob = randomBlob(64 * 1024);
    location.searchParams.set('digest', blob.digest);
    const put = slowPut(location.href, blob.data, 120, 250); // 30 s of body, a 60 s drain
    await put.firstSent;
    await sleep(200);
    registry.child.kill('SIGINT');
    await sleep(500);
    const secondAt = Date.now();
    registry.child.kill('SIGINT');
    const outcome = await put.done.then(
      (r) => `answered ${r.status}`,
      (err: Error) => `cut: ${err.message}`,
    );
    const exit = await exitWithin(registry, 10_000);
    assert.match(outcome, /^cut/);
    assert.equal(exit.code, 0, exit.stderr);
    assert.ok(Date.now() - secondAt < 5_000, `exited ${Date.now() - secondAt} ms after the second signal`);
  });

  it('cuts a request still in flight at http.draintimeout, and still exits 0', async () => {
    const port = await freePort();
    const config = path.join(dir, 'drain.yml');
    await writeFile(config, `log:\n  level: warn\nhttp:\n  addr: 127.0.0.1:${port}\n  draintimeout: 500ms\nstorage:\n  filesystem:\n    rootdirectory: ${path.join(dir, 'data2')}\n`);
    const registry = startCli(['serve', config]);
    started.push(registry);
    await answering(port, registry);
    const start = await fetch(`http://127.0.0.1:${port}/v2/team/app/blobs/uploads/`, { method: 'POST' });
    await start.arrayBuffer();
    const location = new URL(start.headers.get('location')!, `http://127.0.0.1:${port}`);
    const blob = randomBlob(64 * 1024);
    location.searchParams.set('digest', blob.digest);
    const put = slowPut(location.href, blob.data, 40, 250); // 10 s of body: longer than the drain
    await put.firstSent;
    await sleep(200);
    const signalledAt = Date.now();
    registry.child.kill('SIGTERM');
    const outcome = await put.done.then(
      (r) => `answered ${r.status}`,
      (err: Error) => `cut: ${err.message}`,
    );
    const exit = await exitWithin(registry, 10_000);
    const stopMs = Date.now() - signalledAt;
    assert.match(outcome, /^cut/, 'the request did not outlive the drain');
    assert.equal(exit.code, 0, exit.stderr);
    assert.ok(stopMs < 5_000, `stopped after ${stopMs} ms with a 500 ms drain`);
  });
});
