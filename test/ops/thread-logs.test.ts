import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, describe, it } from 'node:test';
import { ChildRegistry, freePort, writeConfig } from '../helpers/child-registry.ts';
import { Client } from '../helpers/client.ts';
import { randomBlob } from '../helpers/oci.ts';

/**
 * The delivery thread logs as the main thread does: log.formatter and log.fields reach it. Its
 * endpoint is a closed loopback port, so the one attempt fails and the event is dead-lettered
 * (a warning written by the delivery thread).
 */
describe('the notification threads log with log.formatter and log.fields', { concurrency: true, timeout: 30_000 }, () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'dockyard-thread-logs-'));
  });
  after(() => rm(dir, { recursive: true, force: true }));

  /** A registry whose one endpoint refuses connections, with `log` as its log section. */
  async function startWithDeadEndpoint(name: string, log: Record<string, unknown>): Promise<ChildRegistry> {
    const [port, closed] = [await freePort(), await freePort()];
    const file = await writeConfig(dir, {
      http: { addr: `127.0.0.1:${port}` },
      storage: { filesystem: { rootdirectory: path.join(dir, `${name}-storage`) } },
      log,
      notifications: { endpoints: [{ name: 'closed', url: `http://127.0.0.1:${closed}/events`, timeout: '1s', backoff: '50ms', maxattempts: 1 }] },
    }, `${name}.yml`);
    return ChildRegistry.start(file, port);
  }

  /** Pushes a blob (one event) and returns the first output line naming the dead-lettering, once written. */
  async function deadLetterLine(child: ChildRegistry): Promise<string> {
    const blob = randomBlob(128);
    assert.equal((await new Client(child.url).pushBlob('logs/app', blob.data, blob.digest)).status, 201);
    const deadline = Date.now() + 10_000;
    for (;;) {
      const line = child.output.split('\n').find((l) => l.includes('events dead-lettered'));
      if (line) return line;
      if (Date.now() > deadline) assert.fail(`no dead-letter warning within 10 s:\n${child.log}`);
      await sleep(50);
    }
  }

  it('writes the delivery thread warning as a readable text line with log.formatter: text', async () => {
    const child = await startWithDeadEndpoint('text', { formatter: 'text', fields: { service: 'x' } });
    try {
      const line = await deadLetterLine(child);
      assert.throws(() => JSON.parse(line), 'the line is not JSON');
      assert.match(line, /^\[\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3}\] WARN.*: events dead-lettered/);
      assert.match(line, /"thread":"delivery"/);
      assert.equal(child.output.split('\n').filter((l) => l.startsWith('{')).length, 0, `no JSON line at all:\n${child.log}`);
    } finally {
      await child.stop();
    }
  });

  it('adds log.fields to the delivery thread warning with log.formatter: json', async () => {
    const child = await startWithDeadEndpoint('json', { formatter: 'json', fields: { service: 'x', team: 'registry' } });
    try {
      const line = JSON.parse(await deadLetterLine(child)) as Record<string, unknown>;
      assert.equal(line.thread, 'delivery');
      assert.equal(line.level, 40);
      assert.equal(line.service, 'x');
      assert.equal(line.team, 'registry');
      assert.equal(line.endpoint, 'closed');
    } finally {
      await child.stop();
    }
  });
});
