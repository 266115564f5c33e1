import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { expectError } from '../helpers/assertions.ts';
import { Client, bytes, withDigest } from '../helpers/client.ts';
import { ociImage, sha256, sha512 } from '../helpers/oci.ts';
import { startTestRegistry, type TestRegistry } from '../helpers/registry.ts';

/** A registry on a given storage root, so that a second one can take over the same data. */
async function registryOn(root: string): Promise<{ running: TestRegistry; c: Client }> {
  const running = await startTestRegistry({ storage: { filesystem: { rootdirectory: root } } });
  return { running, c: new Client(running.url) };
}

/** Runs `first` on registry A, stops it, then `second` on registry B over the same storage. */
async function acrossRestart<T>(root: string, first: (c: Client) => Promise<T>, second: (c: Client, carried: T) => Promise<void>) {
  const a = await registryOn(root);
  let carried: T;
  try {
    carried = await first(a.c);
  } finally {
    await a.running.stop();
  }
  const b = await registryOn(root);
  try {
    await second(b.c, carried);
  } finally {
    await b.running.stop();
  }
}

/** The session path of a Location, so it can be sent to the other registry. */
const pathOf = (location: string) => new URL(location, 'http://placeholder').pathname;

describe('uploads survive a restart of the registry', () => {
  let root: string;
  before(async () => {
    root = await mkdtemp(path.join(tmpdir(), 'dockyard-restart-'));
  });
  after(() => rm(root, { recursive: true, force: true }));

  it('continues a chunked upload started before the restart and stores the right bytes', async () => {
    const data = randomBytes(3000);
    await acrossRestart(
      root,
      async (c) => {
        const location = await c.startUpload('restart/chunked');
        assert.equal((await c.patchChunk(location, data.subarray(0, 1000), 0)).status, 202);
        return pathOf(location);
      },
      async (c, location) => {
        const status = await c.fetch(location);
        assert.equal(status.status, 204);
        assert.equal(status.headers.get('range'), '0-999');
        const next = await c.patchChunk(location, data.subarray(1000, 2000), 1000);
        assert.equal(next.status, 202);
        assert.equal(next.headers.get('range'), '0-1999');
        const done = await c.fetch(withDigest(location, sha256(data)), { method: 'PUT', body: bytes(data.subarray(2000)), headers: { 'content-range': '2000-2999' } });
        assert.equal(done.status, 201, await done.text());
        const got = await c.fetch(`/v2/restart/chunked/blobs/${sha256(data)}`);
        assert.ok(Buffer.from(await got.arrayBuffer()).equals(data));
      },
    );
  });

  it('completes after the restart an upload whose bytes all arrived before it', async () => {
    const data = randomBytes(5000);
    await acrossRestart(
      root,
      async (c) => {
        const location = await c.startUpload('restart/whole');
        assert.equal((await c.patchChunk(location, data, 0)).status, 202);
        return pathOf(location);
      },
      async (c, location) => {
        const done = await c.fetch(withDigest(location, sha256(data)), { method: 'PUT' });
        assert.equal(done.status, 201, await done.text());
        const got = await c.fetch(`/v2/restart/whole/blobs/${sha256(data)}`);
        assert.ok(Buffer.from(await got.arrayBuffer()).equals(data));
      },
    );
  });

  it('still verifies the digest after the restart: a wrong one is refused and nothing is stored', async () => {
    const data = randomBytes(2000);
    await acrossRestart(
      root,
      async (c) => {
        const location = await c.startUpload('restart/verify');
        assert.equal((await c.patchChunk(location, data.subarray(0, 1000), 0)).status, 202);
        return pathOf(location);
      },
      async (c, location) => {
        const wrong = sha256(randomBytes(10));
        await expectError(
          await c.fetch(withDigest(location, wrong), { method: 'PUT', body: bytes(data.subarray(1000)), headers: { 'content-range': '1000-1999' } }),
          400,
          'DIGEST_INVALID',
        );
        assert.equal((await c.fetch(`/v2/restart/verify/blobs/${wrong}`, { method: 'HEAD' })).status, 404);
        assert.equal((await c.fetch(`/v2/restart/verify/blobs/${sha256(data)}`, { method: 'HEAD' })).status, 404);
      },
    );
  });

  it('completes a sha512 upload across the restart', async () => {
    const data = randomBytes(1500);
    await acrossRestart(
      root,
      async (c) => {
        const location = await c.startUpload('restart/sha512');
        assert.equal((await c.patchChunk(location, data.subarray(0, 500), 0)).status, 202);
        return pathOf(location);
      },
      async (c, location) => {
        assert.equal((await c.patchChunk(location, data.subarray(500), 500)).status, 202);
        const done = await c.fetch(withDigest(location, sha512(data)), { method: 'PUT' });
        assert.equal(done.status, 201, await done.text());
        const got = await c.fetch(`/v2/restart/sha512/blobs/${sha512(data)}`);
        assert.ok(Buffer.from(await got.arrayBuffer()).equals(data));
      },
    );
  });

  it('keeps a session cancelled before the restart unknown after it', async () => {
    await acrossRestart(
      root,
      async (c) => {
        const location = await c.startUpload('restart/cancelled');
        assert.equal((await c.fetch(location, { method: 'DELETE' })).status, 204);
        return pathOf(location);
      },
      async (c, location) => {
        await expectError(await c.fetch(location), 404, 'BLOB_UPLOAD_UNKNOWN');
      },
    );
  });

  it('serves after the restart the manifests, tags and blobs pushed before it', async () => {
    const image = ociImage();
    await acrossRestart(
      root,
      async (c) => {
        await c.pushImage('restart/image', 'v1', image);
      },
      async (c) => {
        const res = await c.fetch('/v2/restart/image/manifests/v1');
        assert.equal(res.status, 200);
        assert.ok(Buffer.from(await res.arrayBuffer()).equals(image.manifest));
        const layer = await c.fetch(`/v2/restart/image/blobs/${image.layers[0]!.digest}`);
        assert.ok(Buffer.from(await layer.arrayBuffer()).equals(image.layers[0]!.data));
      },
    );
  });
});
