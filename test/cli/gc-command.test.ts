import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Client } from '../helpers/client.ts';
import { randomBlob } from '../helpers/oci.ts';
import { startTestRegistry } from '../helpers/registry.ts';
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

  it('refuses a storage root that is not there with one line, exit 1', async () => {
    const config = path.join(dir, 'missing.yml');
    await writeFile(config, `storage:\n  filesystem:\n    rootdirectory: ${path.join(dir, 'no-such-root')}\n`);
    const { code, stderr } = await runCli(['gc', config]);
    assert.equal(code, 1);
    assert.match(stderr, /^dockyard gc: the storage root .*no-such-root is not a directory/);
    assert.equal(stderr.trim().split('\n').length, 1, stderr);
  });
});
