import assert from 'node:assert/strict';
import { Agent, request } from 'node:http';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, describe, it } from 'node:test';
import { ChildRegistry, freePort, writeConfig } from '../helpers/child-registry.ts';
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

  interface InFlight {
    registry: Started;
    config: string;
    port: number;
    blob: { data: Buffer; digest: string };
    put: ReturnType<typeof slowPut>;
  }

  /**
   * `dockyard serve` on a fresh port and data directory (`config` merged into its file), and a
   * monolithic blob PUT of `size` bytes in `parts` pieces 250 ms apart, already in the server's hands.
   */
  async function uploadInFlight(name: string, config: Record<string, unknown>, size: number, parts: number, agent?: Agent): Promise<InFlight> {
    const port = await freePort();
    const http = (config.http ?? {}) as Record<string, unknown>;
    const file = await writeConfig(dir, {
      log: { level: 'warn' },
      ...config,
      http: { addr: `127.0.0.1:${port}`, ...http },
      storage: { filesystem: { rootdirectory: path.join(dir, `${name}-data`) } },
    }, `${name}.yml`);
    const registry = startCli(['serve', file]);
    started.push(registry);
    await answering(port, registry);
    const start = await fetch(`http://127.0.0.1:${port}/v2/team/app/blobs/uploads/`, { method: 'POST' });
    assert.equal(start.status, 202);
    await start.arrayBuffer();
    const location = new URL(start.headers.get('location')!, `http://127.0.0.1:${port}`);
    const blob = randomBlob(size);
    location.searchParams.set('digest', blob.digest);
    const put = slowPut(location.href, blob.data, parts, 250, agent);
    await put.firstSent;
    await sleep(200); // the request is in the server's hands
    return { registry, config: file, port, blob, put };
  }

  it('finishes an upload in flight, exits 0, and the outbox keeps its event', async () => {
    // A keep-alive client that never drops its idle connection: the stop must not wait for it.
    const agent = new Agent({ keepAlive: true });
    const { registry, config, port, blob, put } = await uploadInFlight('finish', {
      log: { level: 'info' },
      http: { draintimeout: '20s' },
      notifications: { endpoints: [{ name: 'hook', url: `http://127.0.0.1:${receiver.port}/events`, backoff: '100ms' }] },
    }, 256 * 1024, 8, agent); // about 2 s of body
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

  // A request in flight is cut, and the process still exits 0 within 5 s of the last signal.
  const cuts: { title: string; draintimeout: string; parts: number; signals: NodeJS.Signals[] }[] = [
    // 30 s of body, a 60 s drain: only the second signal ends it early.
    { title: 'cuts the requests in flight at once on a second signal, and still exits 0', draintimeout: '60s', parts: 120, signals: ['SIGINT', 'SIGINT'] },
    // 10 s of body: longer than the drain.
    { title: 'cuts a request still in flight at http.draintimeout, and still exits 0', draintimeout: '500ms', parts: 40, signals: ['SIGTERM'] },
  ];
  for (const [i, cut] of cuts.entries()) {
    it(cut.title, async () => {
      const { registry, put } = await uploadInFlight(`cut-${i}`, { http: { draintimeout: cut.draintimeout } }, 64 * 1024, cut.parts);
      let lastSignalAt = 0;
      for (const [n, signal] of cut.signals.entries()) {
        if (n > 0) await sleep(500); // the drain has begun
        lastSignalAt = Date.now();
        registry.child.kill(signal);
      }
      const outcome = await put.done.then(
        (r) => `answered ${r.status}`,
        (err: Error) => `cut: ${err.message}`,
      );
      const exit = await exitWithin(registry, 10_000);
      const stopMs = Date.now() - lastSignalAt;
      assert.match(outcome, /^cut/, `the request did not outlive the ${cut.signals.length > 1 ? 'second signal' : 'drain'}`);
      assert.equal(exit.code, 0, exit.stderr);
      assert.ok(stopMs < 5_000, `exited ${stopMs} ms after the last signal (draintimeout ${cut.draintimeout})`);
    });
  }
});
