import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, describe, it } from 'node:test';
import { ChildRegistry, freePort, writeConfig } from '../helpers/child-registry.ts';
import { bytes, withDigest } from '../helpers/client.ts';
import { ociImage } from '../helpers/oci.ts';
import { WebhookReceiver } from '../helpers/receiver.ts';
import { writeHtpasswd } from '../auth/issuer.ts';
import { AuthClient, basic } from '../auth/service-support.ts';

/** The access log of a registry process, read from its stdout. */

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

type Line = Record<string, unknown>;

/** The JSON lines the process printed so far (anything else is skipped). */
function jsonLines(child: ChildRegistry): Line[] {
  const lines: Line[] = [];
  for (const text of child.output.split('\n')) {
    if (!text.startsWith('{')) continue;
    lines.push(JSON.parse(text) as Line);
  }
  return lines;
}

/** The access-log line of the request with this id, once it is written (after the response). */
async function lineOf(child: ChildRegistry, id: string | null, timeoutMs = 5_000): Promise<Line> {
  assert.ok(id, 'the response has an X-Request-Id');
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const found = jsonLines(child).filter((l) => l.id === id && 'status' in l);
    if (found.length > 0) {
      assert.equal(found.length, 1, `one line for request ${id}`);
      return found[0]!;
    }
    if (Date.now() > deadline) assert.fail(`no access-log line for request ${id}:\n${child.log}`);
    await sleep(20);
  }
}

/** A registry process on a fresh port and storage, with `config` merged in. */
async function startChild(dir: string, name: string, config: Record<string, unknown>): Promise<ChildRegistry> {
  const port = await freePort();
  const file = await writeConfig(dir, {
    http: { addr: `127.0.0.1:${port}`, ...(config.http as object) },
    storage: { filesystem: { rootdirectory: path.join(dir, `${name}-storage`) } },
    ...Object.fromEntries(Object.entries(config).filter(([k]) => k !== 'http')),
  }, `${name}.yml`);
  return ChildRegistry.start(file, port);
}

// The two groups each start their own processes: they run side by side.
describe('request logs', { concurrency: true, timeout: 60_000 }, () => {
  describe('request logs (JSON, the default)', { timeout: 60_000 }, () => {
    let dir: string;
    let child: ChildRegistry;
    let receiver: WebhookReceiver;
    let alice: AuthClient;
    const password = 'alice-secret-password';

    before(async () => {
      dir = await mkdtemp(path.join(tmpdir(), 'dockyard-request-logs-'));
      receiver = await WebhookReceiver.start();
      const htpasswd = path.join(dir, 'htpasswd');
      await writeHtpasswd(htpasswd, { alice: password });
      child = await startChild(dir, 'json', {
        log: { fields: { deployment: 'logs-test', team: 'registry' } },
        http: { trustedproxies: ['127.0.0.1/32'] },
        auth: { htpasswd: { realm: 'dockyard', path: htpasswd } },
        notifications: { endpoints: [{ name: 'hook', url: receiver.url(), timeout: '2s', backoff: '50ms' }] },
      });
      alice = new AuthClient(child.url, basic('alice', password));
    });
    after(async () => {
      await child?.stop();
      await receiver?.close();
      await rm(dir, { recursive: true, force: true });
    });

    it('writes one line per request of a push with the route pattern, repository, status, bytes, duration and actor', async () => {
      const image = ociImage({ layers: 1 });
      const layer = image.layers[0]!;

      const start = await alice.fetch('/v2/team/app/blobs/uploads/', { method: 'POST' });
      assert.equal(start.status, 202);
      const startLine = await lineOf(child, start.headers.get('x-request-id'));
      assert.equal(startLine.method, 'POST');
      assert.equal(startLine.route, '/v2/:name/blobs/uploads/');
      assert.equal(startLine.handler, 'blob-upload');
      assert.equal(startLine.repository, 'team/app');
      assert.equal(startLine.status, 202);
      assert.equal(startLine.bytesIn, 0);
      assert.equal(startLine.actor, 'alice');
      assert.equal(startLine.level, 30);

      const put = await alice.fetch(withDigest(start.headers.get('location')!, layer.digest), {
        method: 'PUT',
        body: bytes(layer.data),
        headers: { 'content-type': 'application/octet-stream' },
      });
      assert.equal(put.status, 201);
      const putLine = await lineOf(child, put.headers.get('x-request-id'));
      assert.equal(putLine.route, '/v2/:name/blobs/uploads/:uuid');
      assert.equal(putLine.handler, 'blob-upload-chunk');
      assert.equal(putLine.bytesIn, layer.data.length);
      assert.equal(putLine.status, 201);

      const manifestPut = await alice.fetch(`/v2/team/app/manifests/v1`, {
        method: 'PUT',
        body: bytes(image.manifest),
        headers: { 'content-type': image.mediaType },
      });
      // The config blob is missing: the manifest is refused, and the refusal is logged like the rest.
      assert.equal(manifestPut.status, 404);
      const refused = await lineOf(child, manifestPut.headers.get('x-request-id'));
      assert.equal(refused.status, 404);
      assert.equal(refused.route, '/v2/:name/manifests/:reference');
      assert.equal(refused.bytesIn, image.manifest.length);
      assert.ok((refused.bytesOut as number) > 0, 'the error body is counted');

      const get = await alice.fetch(`/v2/team/app/blobs/${layer.digest}`);
      assert.equal(get.status, 200);
      assert.equal((await get.arrayBuffer()).byteLength, layer.data.length);
      const getLine = await lineOf(child, get.headers.get('x-request-id'));
      assert.equal(getLine.route, '/v2/:name/blobs/:digest');
      assert.equal(getLine.bytesOut, layer.data.length);
      assert.equal(typeof getLine.durationMs, 'number');
      assert.ok((getLine.durationMs as number) >= 0 && (getLine.durationMs as number) < 10_000);
      assert.equal(getLine.msg, `GET /v2/team/app/blobs/${layer.digest} 200`);
      for (const line of [startLine, putLine, refused, getLine]) assert.match(line.id as string, UUID);
    });

    it('uses the X-Request-Id of each response as the request.id of the event it caused', async () => {
      const image = ociImage({ layers: 1 });
      const ids = new Map<string, string>(); // digest -> X-Request-Id of the request that pushed it
      for (const blob of [image.config, ...image.layers]) {
        const res = await alice.pushBlob('team/events', blob.data, blob.digest);
        assert.equal(res.status, 201);
        ids.set(blob.digest, res.headers.get('x-request-id')!);
      }
      const res = await alice.pushManifest('team/events', 'v1', image.manifest, image.mediaType);
      assert.equal(res.status, 201);
      ids.set(image.digest, res.headers.get('x-request-id')!);

      // Only this repository's: the first test's push may still be on its way.
      const ours = () => receiver.events().filter((e) => e.target.repository === 'team/events');
      await receiver.until(() => ours().length >= 3, 10_000, () => `${ours().length} events for team/events`);
      const events = ours();
      assert.equal(events.length, 3);
      for (const event of events) {
        const id = ids.get(event.target.digest ?? '');
        assert.ok(id, `an event for ${event.target.digest}`);
        assert.equal(event.request.id, id, `request.id of the push of ${event.target.digest}`);
        const line = await lineOf(child, id);
        assert.equal(line.status, 201);
        assert.equal(line.actor, 'alice');
      }
    });

    it('keeps a sane X-Request-Id from a trusted proxy, and ignores one a client sends directly', async () => {
      const proxied = await alice.fetch('/v2/', { headers: { 'x-request-id': 'edge-4f2a.1', 'x-forwarded-for': '198.51.100.7' } });
      assert.equal(proxied.headers.get('x-request-id'), 'edge-4f2a.1');
      assert.equal((await lineOf(child, 'edge-4f2a.1')).client, '198.51.100.7');

      const direct = await alice.fetch('/v2/', { headers: { 'x-request-id': 'chosen-by-client' } });
      assert.match(direct.headers.get('x-request-id')!, UUID);
      await lineOf(child, direct.headers.get('x-request-id'));

      const insane = await alice.fetch('/v2/', { headers: { 'x-request-id': 'a"b{c}', 'x-forwarded-for': '198.51.100.7' } });
      assert.match(insane.headers.get('x-request-id')!, UUID);
    });

    it('logs a request whose client went away mid-body, marked aborted', async () => {
      const location = await alice.startUpload('team/gone');
      const req = request(new URL(location, child.url), {
        method: 'PATCH',
        headers: { 'content-length': '1000', authorization: basic('alice', password) },
      });
      req.on('error', () => undefined); // the reset we cause
      req.write(Buffer.alloc(300));
      await sleep(200);
      req.destroy();
      const deadline = Date.now() + 5_000;
      let line: Line | undefined;
      while (!(line = jsonLines(child).find((l) => l.url === location)) && Date.now() < deadline) await sleep(20);
      assert.ok(line, `a line for PATCH ${location}:\n${child.log}`);
      assert.equal(line.aborted, true);
      assert.equal(line.method, 'PATCH');
      assert.equal(line.actor, 'alice');
      assert.ok((line.bytesIn as number) >= 300 && (line.bytesIn as number) < 1000, `bytesIn ${String(line.bytesIn)}`);
    });

    it('adds log.fields to every line, and logs a refused or unrouted request without an actor', async () => {
      const anonymous = await fetch(`${child.url}/v2/team/app/tags/list`);
      assert.equal(anonymous.status, 401);
      const denied = await lineOf(child, anonymous.headers.get('x-request-id'));
      assert.equal(denied.route, '/v2/:name/tags/list');
      assert.equal('actor' in denied, false);

      const nowhere = await alice.fetch('/no/such/route');
      assert.equal(nowhere.status, 404);
      const unrouted = await lineOf(child, nowhere.headers.get('x-request-id'));
      assert.equal(unrouted.route, null);
      assert.equal(unrouted.handler, 'none');

      const lines = jsonLines(child);
      assert.ok(lines.some((l) => l.msg === 'dockyard listening'));
      for (const line of lines) {
        assert.equal(line.deployment, 'logs-test', JSON.stringify(line));
        assert.equal(line.team, 'registry');
      }
      assert.equal(child.output.includes(password), false, 'no password in the logs');
      assert.equal(child.output.toLowerCase().includes('authorization'), false, 'no Authorization header in the logs');
    });
  });

  describe('request logs with log.formatter: text, and with the access log disabled', { timeout: 60_000, concurrency: true }, () => {
    let dir: string;
    before(async () => {
      dir = await mkdtemp(path.join(tmpdir(), 'dockyard-request-logs-'));
    });
    after(() => rm(dir, { recursive: true, force: true }));

    it('writes readable single lines, not JSON, with the request and its id', async () => {
      const child = await startChild(dir, 'text', { log: { formatter: 'text' } });
      try {
        const res = await fetch(`${child.url}/v2/_catalog`);
        assert.equal(res.status, 200);
        const id = res.headers.get('x-request-id')!;
        const deadline = Date.now() + 5_000;
        let line: string | undefined;
        while (!(line = child.output.split('\n').find((l) => l.includes(id))) && Date.now() < deadline) await sleep(20);
        assert.ok(line, `a line with ${id}:\n${child.log}`);
        assert.throws(() => JSON.parse(line!), 'the line is not JSON');
        assert.match(line, /^\[\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3}\] INFO.*: GET \/v2\/_catalog 200 /);
        assert.match(line, /"route":"\/v2\/_catalog"/);
        assert.equal(child.output.split('\n').filter((l) => l.startsWith('{')).length, 0, 'no JSON line at all');
        assert.match(child.output, /INFO.*dockyard listening/);
      } finally {
        await child.stop();
      }
    });

    it("writes Distribution's logstash formatter as the JSON lines, and says so", async () => {
      const child = await startChild(dir, 'logstash', { log: { formatter: 'logstash' } });
      try {
        const res = await fetch(`${child.url}/v2/`);
        await res.arrayBuffer();
        const line = await lineOf(child, res.headers.get('x-request-id'));
        assert.equal(line.route, '/v2/');
        assert.ok(jsonLines(child).some((l) => l.level === 40 && /log\.formatter: logstash/.test(String(l.msg))), child.log);
      } finally {
        await child.stop();
      }
    });

    it('writes no request lines with log.accesslog.disabled, and still the other logs', async () => {
      const child = await startChild(dir, 'quiet', { log: { accesslog: { disabled: true } } });
      let ids: string[] = [];
      try {
        for (const p of ['/v2/', '/v2/_catalog', '/v2/x/tags/list', '/nope']) {
          const res = await fetch(`${child.url}${p}`);
          await res.arrayBuffer();
          ids.push(res.headers.get('x-request-id')!);
        }
      } finally {
        await child.stop(); // everything it would have written is out once it exited
      }
      ids = ids.filter(Boolean);
      assert.equal(ids.length, 4, 'every response still has its X-Request-Id');
      const lines = jsonLines(child);
      assert.ok(lines.some((l) => l.msg === 'dockyard listening'), child.log);
      assert.deepEqual(lines.filter((l) => 'status' in l || ids.includes(l.id as string)), []);
    });
  });
});
