import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Client } from '../helpers/client.ts';
import { randomBlob } from '../helpers/oci.ts';
import { startTestRegistry } from '../helpers/registry.ts';
import { ChildRegistry, freePort } from '../helpers/child-registry.ts';
import { ociImage } from '../helpers/oci.ts';
import { eventsOf, ok, WebhookReceiver } from '../helpers/receiver.ts';
import { eventually } from '../notify/support.ts';
import { runCli } from './run-cli.ts';

describe('dockyard gc', () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'dockyard-cli-gc-'));
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('gc --dry-run reports an unreferenced blob and keeps it; gc removes it', async () => {
    const registry = await startTestRegistry();
    const blob = randomBlob(4096);
    let root: string;
    try {
      const res = await new Client(registry.url).pushBlob('team/app', blob.data, blob.digest);
      assert.equal(res.status, 201);
      root = registry.root;
      await registry.close(); // the storage stays: stop() would remove it
    } catch (err) {
      await registry.stop();
      throw err;
    }
    const data = path.join(root, 'docker/registry/v2/blobs/sha256', blob.digest.slice(7, 9), blob.digest.slice(7), 'data');
    assert.ok(existsSync(data), data);
    const config = path.join(dir, 'gc.yml');
    await writeFile(config, `log:\n  level: warn\nstorage:\n  filesystem:\n    rootdirectory: ${root}\n  gc:\n    delay: 0s\n`);
    try {
      const dry = await runCli(['gc', '--dry-run', config]);
      assert.equal(dry.code, 0, dry.stderr);
      assert.match(dry.stdout, /would remove 1 blob\(s\) \(4096 bytes\)/);
      assert.ok(existsSync(data), 'a dry run removes nothing');

      const real = await runCli(['gc', config]);
      assert.equal(real.code, 0, real.stderr);
      assert.match(real.stdout, /removed 1 blob\(s\) \(4096 bytes\)/);
      assert.ok(!existsSync(data), 'the blob data is gone');
    } finally {
      await rm(root, { recursive: true, force: true });
    }
  });

  it('queues its deletions as events in the outbox of the registry serving the storage, which delivers them (to a runtime endpoint too)', async () => {
    const receiver = await WebhookReceiver.start(ok);
    const root = path.join(dir, 'served');
    const port = await freePort();
    // No endpoint in the config: the one events go to is created through the operator API and
    // stored in the outbox, where the CLI finds it.
    const endpoints = `notifications:\n  admin:\n    allowtargets: ["127.0.0.1:${new URL(receiver.url()).port}"]\n`;
    const config = path.join(dir, 'served.yml');
    await writeFile(
      config,
      `log:\n  level: warn\nhttp:\n  addr: 127.0.0.1:${port}\nstorage:\n  filesystem:\n    rootdirectory: ${root}\n  delete:\n    enabled: true\n  gc:\n    delay: 0s\n${endpoints}`,
    );
    const served = await ChildRegistry.start(config, port);
    try {
      const created = await fetch(`${served.url}/notifications/endpoints`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ name: 'hook', url: receiver.url(), timeout: '1s', backoff: '50ms' }),
      });
      assert.equal(created.status, 201, await created.text());
      const client = new Client(served.url);
      const image = await client.pushImage('team/gone', 'v1', ociImage({ layers: 1 }));
      assert.equal((await client.fetch(`/v2/team/gone/manifests/${image.digest}`, { method: 'DELETE' })).status, 202);
      // Both of the client's delete events (the manifest's, and its tag's) are in before the collector runs.
      await eventually(
        () => receiver.requests.flatMap(eventsOf).filter((e) => e.action === 'delete').length >= 2,
        'the manifest delete and its tag delete are delivered',
        10_000,
      );
      receiver.clear();

      // The CLI collects beside the serving registry: its events go into that registry's outbox.
      const run = await runCli(['gc', config]);
      assert.equal(run.code, 0, run.stderr);
      assert.match(run.stdout, /removed 3 blob\(s\) .* 2 layer link\(s\), 1 repository/); // the manifest, its config and layer
      await eventually(() => receiver.requests.flatMap(eventsOf).length >= 2, 'the collector’s deletes are delivered by the registry', 10_000);
      const events = receiver.requests.flatMap(eventsOf);
      assert.deepEqual(
        events.map((e) => [e.action, e.target.repository, e.target.digest, e.actor]).sort(),
        [image.config, ...image.layers].map((b) => ['delete', 'team/gone', b.digest, { internal: 'gc' }]).sort(),
        'a blob delete per layer link removed, from the collector, none twice',
      );
    } finally {
      await served.kill();
      await receiver.close();
    }
  });

  it('refuses a storage root that is not there with one line, exit 1', async () => {
    const config = path.join(dir, 'missing.yml');
    await writeFile(config, `storage:\n  filesystem:\n    rootdirectory: ${path.join(dir, 'no-such-root')}\n`);
    const { code, stderr } = await runCli(['gc', config]);
    assert.equal(code, 1);
    assert.match(stderr, /^dockyard gc: the storage root .*no-such-root is not a directory/);
    assert.equal(stderr.trim().split('\n').length, 1, stderr);
  });
});
