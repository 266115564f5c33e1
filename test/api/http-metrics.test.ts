import assert from 'node:assert/strict';
import { request, type IncomingMessage } from 'node:http';
import { once } from 'node:events';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, it } from 'node:test';
import { V2Router } from '../../src/api/v2-router.ts';
import { bytes, withDigest } from '../helpers/client.ts';
import { randomBlob } from '../helpers/oci.ts';
import { useTestRegistry } from '../helpers/registry.ts';

/** The Prometheus metrics of the debug listener, scraped as a monitoring system would. */

type Samples = Map<string, number>;

/** `name{a="1",b="2"}` -> value, labels in the order the registry writes them. */
function parse(text: string): Samples {
  const samples: Samples = new Map();
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const at = line.lastIndexOf(' ');
    samples.set(line.slice(0, at), Number(line.slice(at + 1)));
  }
  return samples;
}

describe('HTTP and storage metrics on the debug listener', { timeout: 60_000 }, () => {
  const h = useTestRegistry({ http: { debug: { addr: '127.0.0.1:0', prometheus: { enabled: true } } } });

  const scrapeText = async () => {
    const res = await fetch(`http://127.0.0.1:${h.registry.debugPort}/metrics`);
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type') ?? '', /^text\/plain/);
    return res.text();
  };
  /**
   * Metrics once every request made so far is counted: a request is observed when its response
   * is over on the server ('finish'), which may come after this process, the client, read the
   * last byte. In flight 0 on every handler means all of them are in.
   */
  /** As it is now, requests in flight included. */
  const scrapeNow = async () => parse(await scrapeText());
  const scrape = async () => {
    let samples = parse(await scrapeText());
    for (let i = 0; i < 200; i++) {
      const inFlight = [...samples].filter(([k]) => k.startsWith('registry_http_in_flight_requests{')).reduce((n, [, v]) => n + v, 0);
      if (inFlight === 0) return samples;
      await sleep(10);
      samples = parse(await scrapeText());
    }
    return samples;
  };
  const value = (s: Samples, key: string) => s.get(key) ?? 0;

  it('counts requests by code, handler and method, and times them per handler and method', async () => {
    const before = await scrape();
    for (let i = 0; i < 3; i++) await (await h.client.fetch('/v2/')).arrayBuffer();
    await (await h.client.fetch('/v2/count/app/manifests/missing')).arrayBuffer();
    const after = await scrape();

    const base = 'registry_http_requests_total{code="200",handler="base",method="GET"}';
    assert.equal(value(after, base) - value(before, base), 3);
    const missing = 'registry_http_requests_total{code="404",handler="manifest",method="GET"}';
    assert.equal(value(after, missing) - value(before, missing), 1);
    const count = 'registry_http_request_duration_seconds_count{handler="base",method="GET"}';
    assert.equal(value(after, count) - value(before, count), 3);
    const inf = 'registry_http_request_duration_seconds_bucket{le="+Inf",handler="base",method="GET"}';
    assert.equal(value(after, inf) - value(before, inf), 3);
    assert.ok(value(after, 'registry_http_request_duration_seconds_sum{handler="base",method="GET"}') > 0);
  });

  it('measures request and response body sizes, and blob bytes pushed and pulled', async () => {
    const blob = randomBlob(3000);
    const before = await scrape();
    const location = await h.client.startUpload('sizes/app');
    const put = await h.client.fetch(withDigest(location, blob.digest), {
      method: 'PUT',
      body: bytes(blob.data),
      headers: { 'content-type': 'application/octet-stream' },
    });
    assert.equal(put.status, 201);
    const get = await h.client.fetch(`/v2/sizes/app/blobs/${blob.digest}`);
    assert.equal((await get.arrayBuffer()).byteLength, 3000);
    const after = await scrape();
    const delta = (key: string) => value(after, key) - value(before, key);

    assert.equal(delta('registry_http_request_size_bytes_sum{handler="blob-upload-chunk"}'), 3000);
    assert.equal(delta('registry_http_request_size_bytes_count{handler="blob-upload-chunk"}'), 1);
    // 3000 bytes: above the 2 KiB bucket, within the 4 KiB one.
    assert.equal(delta('registry_http_request_size_bytes_bucket{le="2048",handler="blob-upload-chunk"}'), 0);
    assert.equal(delta('registry_http_request_size_bytes_bucket{le="4096",handler="blob-upload-chunk"}'), 1);
    assert.equal(delta('registry_http_response_size_bytes_sum{handler="blob"}'), 3000);
    assert.equal(delta('dockyard_blob_bytes_total{direction="pushed"}'), 3000);
    assert.equal(delta('dockyard_blob_bytes_total{direction="pulled"}'), 3000);
  });

  it('counts upload sessions started, completed and cancelled', async () => {
    const before = await scrape();
    const blob = randomBlob(100);
    assert.equal((await h.client.pushBlob('uploads/app', blob.data, blob.digest)).status, 201); // started, completed
    const single = randomBlob(100);
    const monolithic = await h.client.fetch(`/v2/uploads/app/blobs/uploads/?digest=${single.digest}`, {
      method: 'POST',
      body: bytes(single.data),
      headers: { 'content-type': 'application/octet-stream' },
    });
    assert.equal(monolithic.status, 201); // started and completed in one request
    const abandoned = await h.client.startUpload('uploads/app');
    assert.equal((await h.client.fetch(abandoned, { method: 'DELETE' })).status, 204);
    const wrong = await h.client.fetch(withDigest(await h.client.startUpload('uploads/app'), blob.digest), {
      method: 'PUT',
      body: bytes(randomBlob(100).data),
    });
    assert.equal(wrong.status, 400); // a digest mismatch completes nothing
    const after = await scrape();
    const delta = (outcome: string) =>
      value(after, `dockyard_upload_sessions_total{outcome="${outcome}"}`) - value(before, `dockyard_upload_sessions_total{outcome="${outcome}"}`);
    assert.equal(delta('started'), 4);
    assert.equal(delta('completed'), 2);
    assert.equal(delta('cancelled'), 1);
  });

  it('shows a request in flight under its handler while its body is still coming', async () => {
    const location = await h.client.startUpload('flight/app');
    const key = 'registry_http_in_flight_requests{handler="blob-upload-chunk"}';
    const idle = value(await scrapeNow(), key);
    const url = new URL(location, h.registry.url);
    const req = request(url, { method: 'PATCH', headers: { 'content-type': 'application/octet-stream', 'content-length': '200' } });
    req.write(Buffer.alloc(100));
    let during = idle;
    for (let i = 0; i < 100 && during === idle; i++) {
      await sleep(20);
      during = value(await scrapeNow(), key);
    }
    assert.equal(during, idle + 1);
    const responded = once(req, 'response') as Promise<[IncomingMessage]>;
    req.end(Buffer.alloc(100));
    const [res] = await responded;
    res.resume();
    await once(res, 'end');
    assert.equal(res.statusCode, 202);
    await sleep(20);
    assert.equal(value(await scrapeNow(), key), idle);
  });

  it('takes a request out of flight when its client goes away mid-body', async () => {
    const location = await h.client.startUpload('flight/gone');
    const key = 'registry_http_in_flight_requests{handler="blob-upload-chunk"}';
    const idle = value(await scrapeNow(), key);
    const req = request(new URL(location, h.registry.url), { method: 'PATCH', headers: { 'content-length': '200' } });
    req.on('error', () => undefined); // the reset we cause
    req.write(Buffer.alloc(100));
    let now = idle;
    for (let i = 0; i < 100 && now === idle; i++) {
      await sleep(20);
      now = value(await scrapeNow(), key);
    }
    assert.equal(now, idle + 1);
    req.destroy();
    for (let i = 0; i < 100 && now !== idle; i++) {
      await sleep(20);
      now = value(await scrapeNow(), key);
    }
    assert.equal(now, idle);
  });

  it('times each storage action of the filesystem driver under Distribution action names', async () => {
    const before = await scrape();
    const blob = randomBlob(200);
    assert.equal((await h.client.pushBlob('storage/app', blob.data, blob.digest)).status, 201);
    assert.equal((await h.client.fetch(`/v2/storage/app/blobs/${blob.digest}`, { method: 'HEAD' })).status, 200);
    const after = await scrape();
    for (const action of ['PutContent', 'Stat', 'Move', 'Writer', 'Commit']) {
      const key = `registry_storage_action_seconds_count{driver="filesystem",action="${action}"}`;
      assert.ok(value(after, key) > value(before, key), `${action} timed: ${value(before, key)} -> ${value(after, key)}`);
    }
    assert.ok(value(after, 'registry_storage_action_seconds_sum{driver="filesystem",action="PutContent"}') > 0);
  });

  it('never puts a repository name in a label', async () => {
    await (await h.client.fetch('/v2/a-very-distinct-repo/tags/list')).arrayBuffer();
    const text = await scrapeText();
    assert.match(text, /handler="tags"/);
    assert.equal(text.includes('a-very-distinct-repo'), false);
    const handlers = new Set([...text.matchAll(/handler="([^"]+)"/g)].map((m) => m[1]));
    const known = ['base', 'catalog', 'tags', 'referrers', 'blob-upload', 'blob-upload-chunk', 'blob', 'manifest', 'healthz', 'readyz', 'notifications', 'token', 'none'];
    for (const handler of handlers) assert.ok(known.includes(handler!), `handler label ${handler}`);
  });

  it('stops the start when a /v2/ route has no name for its label', () => {
    const router = new V2Router();
    assert.doesNotThrow(() => router.resource(/^\/v2\/_catalog$/, { GET: [(_req, res) => void res.end()] }));
    assert.throws(
      () => router.resource(/^\/v2\/(.+)\/new-thing$/, { GET: [(_req, res) => void res.end()] }),
      /new-thing\$ has no name in src\/api\/exchange.ts/,
    );
  });
});
