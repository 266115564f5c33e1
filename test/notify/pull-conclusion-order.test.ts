import assert from 'node:assert/strict';
import { request } from 'node:http';
import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, it } from 'node:test';
import { ociImage, sha256 } from '../helpers/oci.ts';
import { actions, drained, received, resetBeforeEach, useWithReceiver } from './support.ts';

/** Pulls are reported upon conclusion; pushes to one tag are reported in the order the tag was written. */
describe('events that agree with what happened', { timeout: 120_000 }, () => {
  const h = useWithReceiver();
  resetBeforeEach(h);

  /** GETs `path` and drops the connection after the first `keep` bytes of the body. */
  function abortedGet(path: string, keep: number): Promise<number> {
    const url = new URL(path, h.registry.url);
    return new Promise((resolve, reject) => {
      const req = request({ host: url.hostname, port: url.port, path: url.pathname, agent: false }, (res) => {
        let got = 0;
        res.on('data', (chunk: Buffer) => {
          got += chunk.length;
          if (got >= keep) {
            req.destroy();
            resolve(got);
          }
        });
        res.on('end', () => reject(new Error(`the whole body (${got} bytes) arrived before the test could abort`)));
      });
      req.on('error', () => undefined);
      req.end();
    });
  }

  it('reports no pull for a blob download the client gave up on, and one for a download that finished', async () => {
    const data = randomBytes(64 * 1024 * 1024); // far more than the socket buffers hold
    const digest = sha256(data);
    assert.equal((await h.client.pushBlob('conclusion/app', data, digest)).status, 201);
    await drained(h.registry);
    h.receiver.clear();

    const got = await abortedGet(`/v2/conclusion/app/blobs/${digest}`, 64 * 1024);
    assert.ok(got < data.length);
    await sleep(200); // the server notices the closed connection
    assert.deepEqual(actions(await received(h)), [], 'an aborted download is not a pull');

    const whole = await h.client.fetch(`/v2/conclusion/app/blobs/${digest}`);
    assert.equal(Buffer.from(await whole.arrayBuffer()).length, data.length);
    const events = await received(h);
    assert.equal(events.length, 1, actions(events).join(', '));
    assert.equal(events[0]!.action, 'pull');
    assert.equal(events[0]!.target.digest, digest);
  });

  it('reports the pushes of 16 clients racing to one tag in the order the tag was written, 20 times over', async () => {
    const rounds = 20;
    const clients = 16;
    const image = ociImage({ layers: 1 });
    for (const blob of [image.config, ...image.layers]) {
      assert.equal((await h.client.pushBlob('race/app', blob.data, blob.digest)).status, 201);
    }
    const contradicted: string[] = [];
    for (let round = 0; round < rounds; round++) {
      const tag = `r${round}`;
      // Different manifests over the same blobs: only the annotation differs.
      const manifests = Array.from({ length: clients }, (_, i) => {
        const body = JSON.parse(image.manifest.toString('utf8')) as Record<string, unknown>;
        body.annotations = { client: String(i), round: String(round) };
        return Buffer.from(JSON.stringify(body));
      });
      const answers = await Promise.all(manifests.map((m) => h.client.pushManifest('race/app', tag, m, image.mediaType)));
      for (const res of answers) assert.equal(res.status, 201);
      const head = await h.client.fetch(`/v2/race/app/manifests/${tag}`, { method: 'HEAD', headers: { accept: image.mediaType } });
      const current = head.headers.get('docker-content-digest');
      await drained(h.registry);
      const pushes = h.receiver.events().filter((e) => e.action === 'push' && e.target.tag === tag);
      assert.equal(pushes.length, clients, `round ${round}: one push event per client`);
      if (pushes.at(-1)!.target.digest !== current) contradicted.push(`${tag}: last event ${pushes.at(-1)!.target.digest}, tag ${current}`);
    }
    assert.deepEqual(contradicted, [], 'the last push event of each tag names the digest the tag resolves to');
  });
});
