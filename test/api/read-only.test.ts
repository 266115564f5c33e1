import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { parseConfig } from '../../src/config/load.ts';
import { createLogger } from '../../src/logger.ts';
import { startRegistry, type RunningRegistry } from '../../src/server.ts';
import { PROBE_PATH } from '../../src/storage-health.ts';
import { expectError } from '../helpers/assertions.ts';
import { Client, bytes } from '../helpers/client.ts';
import { ociImage, randomBlob, type ImageFixture } from '../helpers/oci.ts';
import { WebhookReceiver } from '../helpers/receiver.ts';
import { drained } from '../notify/support.ts';

/** Every file under `dir` with its size and content hash-free identity (path and bytes). */
async function snapshot(dir: string): Promise<Map<string, string>> {
  const files = new Map<string, string>();
  for (const entry of await readdir(dir, { recursive: true, withFileTypes: true })) {
    if (!entry.isFile()) continue;
    const file = path.join(entry.parentPath, entry.name);
    files.set(path.relative(dir, file), (await readFile(file)).toString('base64'));
  }
  return files;
}

const registryTree = (root: string) => path.join(root, 'docker', 'registry', 'v2');

describe('read-only mode (storage.maintenance.readonly.enabled)', () => {
  let root: string;
  let receiver: WebhookReceiver;
  let registry: RunningRegistry;
  let client: Client;
  let image: ImageFixture;
  let before_: Map<string, string>;

  const start = (extra: Record<string, unknown>) => {
    const { config } = parseConfig({
      http: { addr: '127.0.0.1:0' },
      storage: { filesystem: { rootdirectory: root }, delete: { enabled: true }, ...extra },
      notifications: { endpoints: [{ name: 'hook', url: receiver.url(), timeout: '1s', backoff: '50ms', threshold: 2 }] },
    });
    return startRegistry(config, createLogger(process.env.DOCKYARD_TEST_LOG ?? 'silent'));
  };

  before(async () => {
    root = await mkdtemp(path.join(tmpdir(), 'dockyard-readonly-'));
    receiver = await WebhookReceiver.start();
    const writable = await start({});
    image = await new Client(writable.url).pushImage('ro/app', 'v1', ociImage());
    await drained(writable); // its push events delivered, so that none is left for the read-only start to send
    await writable.close();
    receiver.clear();
    before_ = await snapshot(registryTree(root));
    registry = await start({ maintenance: { readonly: { enabled: true } } });
    client = new Client(registry.url);
  });
  after(async () => {
    await registry?.close();
    await receiver?.close();
    await rm(root, { recursive: true, force: true });
  });

  it('refuses every write with 405 UNSUPPORTED and Allow: GET, HEAD, as Distribution answers 405 with that Allow', async (t) => {
    const blob = randomBlob(300);
    const layer = image.layers[0]!.digest;
    const writes: [string, string, RequestInit][] = [
      ['upload start', '/v2/ro/app/blobs/uploads/', { method: 'POST' }],
      ['single-request push', `/v2/ro/app/blobs/uploads/?digest=${blob.digest}`, { method: 'POST', body: bytes(blob.data) }],
      ['cross-repository mount', `/v2/ro/other/blobs/uploads/?mount=${layer}&from=ro/app`, { method: 'POST' }],
      ['chunk', '/v2/ro/app/blobs/uploads/0b0f2a7e-5b1e-4c4e-9d7a-1f3c2b4a5d6e', { method: 'PATCH', body: bytes(blob.data) }],
      ['upload completion', `/v2/ro/app/blobs/uploads/0b0f2a7e-5b1e-4c4e-9d7a-1f3c2b4a5d6e?digest=${blob.digest}`, { method: 'PUT' }],
      ['upload cancel', '/v2/ro/app/blobs/uploads/0b0f2a7e-5b1e-4c4e-9d7a-1f3c2b4a5d6e', { method: 'DELETE' }],
      ['manifest push', '/v2/ro/app/manifests/v2', { method: 'PUT', body: bytes(image.manifest), headers: { 'content-type': image.mediaType } }],
      ['manifest delete', `/v2/ro/app/manifests/${image.digest}`, { method: 'DELETE' }],
      ['tag delete', '/v2/ro/app/manifests/v1', { method: 'DELETE' }],
      ['blob delete', `/v2/ro/app/blobs/${layer}`, { method: 'DELETE' }],
    ];
    for (const [what, url, init] of writes) {
      const res = await client.fetch(url, init);
      assert.equal(res.headers.get('allow'), 'GET, HEAD', what);
      const [error] = await expectError(res, 405, 'UNSUPPORTED', what);
      assert.match(error!.message, /read-only/, what);
    }
    t.diagnostic(`${writes.length} kinds of write refused`);
  });

  it('serves reads: the manifest by tag and digest, blobs, tags and the catalog', async () => {
    const manifest = await client.fetch('/v2/ro/app/manifests/v1', { headers: { accept: image.mediaType } });
    assert.equal(manifest.status, 200);
    assert.deepEqual(Buffer.from(await manifest.arrayBuffer()), image.manifest);
    const head = await client.fetch(`/v2/ro/app/manifests/${image.digest}`, { method: 'HEAD', headers: { accept: image.mediaType } });
    assert.equal(head.status, 200);
    for (const b of [image.config, ...image.layers]) {
      const res = await client.fetch(`/v2/ro/app/blobs/${b.digest}`);
      assert.equal(res.status, 200);
      assert.deepEqual(Buffer.from(await res.arrayBuffer()), b.data);
    }
    assert.deepEqual(await (await client.fetch('/v2/ro/app/tags/list')).json(), { name: 'ro/app', tags: ['v1'] });
    assert.deepEqual(await (await client.fetch('/v2/_catalog')).json(), { repositories: ['ro/app'] });
    assert.equal((await client.fetch('/v2/')).status, 200);
  });

  it('stored nothing and emitted no event for the refused writes (only the reads\' pulls)', async () => {
    assert.deepEqual(await snapshot(registryTree(root)), before_, 'the registry tree is unchanged');
    // The reads above emit pulls; events arrive in order, so the writes before them emitted nothing.
    await drained(registry);
    const events = receiver.events();
    const actions = new Set(events.map((e) => e.action));
    assert.deepEqual([...actions], ['pull'], `actions seen: ${[...actions].join(', ')} in ${events.length} events`);
    assert.equal(events.length, 1 + 1 + image.layers.length, 'the manifest GET, the config and each layer');
  });

  it('answers /readyz 200 without writing a probe into the read-only root', async () => {
    const res = await client.fetch('/readyz');
    assert.equal(res.status, 200, await res.text());
    await assert.rejects(stat(path.join(root, PROBE_PATH)), { code: 'ENOENT' });
  });

  it('is off by default: the same root takes writes again once the key is gone', async () => {
    await registry.close();
    registry = await start({});
    client = new Client(registry.url);
    const blob = randomBlob(200);
    const res = await client.pushBlob('ro/app', blob.data, blob.digest);
    assert.equal(res.status, 201, await res.text());
  });
});

describe('read-only mode on a root that cannot be written', () => {
  it('starts without writing the root (no probe, no temp sweep) and serves what is there', async (t) => {
    const root = await mkdtemp(path.join(tmpdir(), 'dockyard-readonly-immutable-'));
    let registry: RunningRegistry | undefined;
    let frozen = false;
    // One hook, in this order: the registry stops, the root thaws, then it goes.
    t.after(async () => {
      await registry?.close();
      if (frozen) execFileSync('chattr', ['-i', root]);
      await rm(root, { recursive: true, force: true });
    });
    const start = (extra: Record<string, unknown>) => {
      const { config } = parseConfig({ http: { addr: '127.0.0.1:0' }, storage: { filesystem: { rootdirectory: root }, ...extra } });
      return startRegistry(config, createLogger(process.env.DOCKYARD_TEST_LOG ?? 'silent'));
    };
    const writable = await start({});
    const image = await new Client(writable.url).pushImage('ro/app', 'v1', ociImage());
    await writable.close();
    // As root, chmod does not stop a write; an immutable directory does (FIELD-NOTES).
    execFileSync('chattr', ['+i', root]);
    frozen = true;
    registry = await start({ maintenance: { readonly: { enabled: true } } });
    const res = await new Client(registry.url).fetch('/v2/ro/app/manifests/v1', { headers: { accept: image.mediaType } });
    assert.equal(res.status, 200);
    assert.ok(Buffer.from(await res.arrayBuffer()).equals(image.manifest));
    // And a start that may write refuses that root, so the test above is not vacuous.
    await assert.rejects(start({}), /storage root/);
  });
});
