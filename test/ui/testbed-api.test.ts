import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { EVENT_ACTIONS, eventSchema, type Event } from '../../src/notify/event.ts';
import { writeHtpasswd } from '../auth/issuer.ts';
import { randomBlob } from '../helpers/oci.ts';
import { startTestRegistry, type TestRegistry } from '../helpers/registry.ts';
import { committedSchema, jsonSchemaViolations } from '../notify/json-schema.ts';
import { useWithReceiver } from '../notify/support.ts';

/** Reads a Server-Sent Events stream: each message's event name, id and data, as they arrive. */
async function* sse(res: Response): AsyncGenerator<{ event: string; id: string; data: string }> {
  const reader = res.body!.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = '';
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    buffer += value;
    let end: number;
    while ((end = buffer.indexOf('\n\n')) >= 0) {
      const block = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      const fields = { event: 'message', id: '', data: '' };
      for (const line of block.split('\n')) {
        const [k, ...rest] = line.split(':');
        const v = rest.join(':').replace(/^ /, '');
        if (k === 'event') fields.event = v;
        else if (k === 'id') fields.id = v;
        else if (k === 'data') fields.data += v;
      }
      if (fields.data) yield fields;
    }
  }
}

describe('the test bed page and its live stream', { timeout: 30_000 }, () => {
  const h = useWithReceiver();

  it('serves the page at /ui/ (and /ui sends there), as plain HTML with its script and style', async () => {
    const moved = await fetch(`${h.registry.url}/ui`, { redirect: 'manual' });
    assert.equal(moved.status, 301);
    assert.equal(moved.headers.get('location'), '/ui/');
    const page = await fetch(`${h.registry.url}/ui/`);
    assert.equal(page.status, 200);
    assert.match(page.headers.get('content-type') ?? '', /^text\/html/);
    const html = await page.text();
    assert.match(html, /<script src="app\.js"/);
    for (const asset of ['app.js', 'app.css']) {
      const res = await fetch(`${h.registry.url}/ui/${asset}`);
      assert.equal(res.status, 200, asset);
      assert.ok((await res.text()).length > 500, `${asset} has content`);
    }
    assert.equal((await fetch(`${h.registry.url}/ui/nothing.js`)).status, 404);
  });

  it('streams each event once as it is committed, with the id the endpoint receives', async () => {
    const abort = new AbortController();
    const res = await fetch(`${h.registry.url}/ui/events/stream`, { signal: abort.signal });
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type') ?? '', /^text\/event-stream/);
    const messages = sse(res);
    const blobs = [randomBlob(300), randomBlob(301)];
    for (const b of blobs) assert.equal((await h.client.pushBlob('ui/live', b.data, b.digest)).status, 201);
    const seen: Event[] = [];
    const deadline = setTimeout(() => abort.abort(), 10_000);
    try {
      for await (const m of messages) {
        assert.equal(m.event, 'registry-event');
        const event = eventSchema.parse(JSON.parse(m.data));
        assert.equal(m.id, event.id);
        seen.push(event);
        if (seen.length === blobs.length) break;
      }
    } finally {
      clearTimeout(deadline);
      abort.abort();
    }
    assert.deepEqual(seen.map((e) => e.target.digest).sort(), blobs.map((b) => b.digest).sort());
    const delivered = await h.receiver.waitFor(2);
    assert.deepEqual(seen.map((e) => e.id).sort(), delivered.map((e) => e.id).sort());
  });

  it('offers an example of every action, valid against the event schema, as a download', async () => {
    const schema = committedSchema();
    for (const action of EVENT_ACTIONS) {
      const res = await fetch(`${h.registry.url}/notifications/schema/examples/${action}.json`);
      assert.equal(res.status, 200, action);
      assert.match(res.headers.get('content-disposition') ?? '', new RegExp(`attachment; filename="?${action}\\.json"?`));
      const envelope = await res.json();
      assert.deepEqual(jsonSchemaViolations(schema, envelope), [], action);
      const [event] = (envelope as { events: unknown[] }).events;
      assert.equal(eventSchema.parse(event).action, action);
    }
    const unknown = await fetch(`${h.registry.url}/notifications/schema/examples/upload.json`);
    assert.equal(unknown.status, 400);
    assert.equal(((await unknown.json()) as { errors: { code: string }[] }).errors[0]!.code, 'INVALID_PARAMETER');
  });

  it('keeps what an inbox endpoint is sent, as sent, and checks each signature as a consumer would', async () => {
    const created = await fetch(`${h.registry.url}/notifications/endpoints`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'box', inbox: true }),
    });
    assert.equal(created.status, 201, await created.clone().text());
    const blob = randomBlob(512);
    assert.equal((await h.client.pushBlob('ui/box', blob.data, blob.digest)).status, 201);
    type Listed = { requests: { seq: number; method: string; headers: Record<string, string>; body: string; bytes: number; signature: { valid: boolean; detail: string } }[] };
    let listed: Listed = { requests: [] };
    for (let i = 0; i < 50 && listed.requests.length === 0; i++) {
      listed = (await (await fetch(`${h.registry.url}/ui/inbox/box/requests`)).json()) as Listed;
      if (listed.requests.length === 0) await new Promise((r) => setTimeout(r, 100));
    }
    const [got] = listed.requests;
    assert.ok(got, 'the inbox received the push');
    assert.equal(got.method, 'POST');
    assert.equal(got.bytes, Buffer.byteLength(got.body));
    assert.equal(got.signature.valid, true, got.signature.detail);
    assert.match(got.headers['webhook-signature'] ?? '', /^v1,/);
    const [event] = (JSON.parse(got.body) as { events: Event[] }).events;
    assert.equal(event!.target.digest, blob.digest);
    assert.equal(got.headers['webhook-id'], event!.id);

    // The same bytes with a changed body, or no signature at all, are kept and shown as failing the check.
    const forged = await fetch(`${h.registry.url}/ui/inbox/box`, { method: 'POST', headers: Object.fromEntries(Object.entries(got.headers).filter(([k]) => k.startsWith('webhook-') || k === 'content-type')), body: got.body.replace(blob.digest, 'sha256:' + '0'.repeat(64)) });
    assert.equal(forged.status, 200);
    const unsigned = await fetch(`${h.registry.url}/ui/inbox/box`, { method: 'POST', body: got.body });
    assert.equal(unsigned.status, 200);
    const after = (await (await fetch(`${h.registry.url}/ui/inbox/box/requests?after=${got.seq}`)).json()) as Listed;
    assert.deepEqual(after.requests.map((r) => [r.seq, r.signature.valid, r.signature.detail]), [
      [got.seq + 1, false, 'no matching signature'],
      [got.seq + 2, false, 'missing webhook headers'],
    ]);
    const bad = await fetch(`${h.registry.url}/ui/inbox/box/requests?after=x`);
    assert.equal(bad.status, 400);
  });

  it('answers an unknown inbox with ENDPOINT_UNKNOWN and keeps nothing', async () => {
    const res = await fetch(`${h.registry.url}/ui/inbox/nobody`, { method: 'POST', body: '{"events":[]}' });
    assert.equal(res.status, 404);
    assert.equal(((await res.json()) as { errors: { code: string }[] }).errors[0]!.code, 'ENDPOINT_UNKNOWN');
    assert.equal((await fetch(`${h.registry.url}/ui/inbox/nobody/requests`)).status, 404);
  });
});

describe('the test bed behind auth', { timeout: 30_000 }, () => {
  let work: string;
  let registry: TestRegistry;
  before(async () => {
    work = await mkdtemp(path.join(tmpdir(), 'dockyard-ui-auth-'));
    const file = path.join(work, 'htpasswd');
    await writeHtpasswd(file, { root: 'rootpw', alice: 'alicepw' });
    registry = await startTestRegistry({ auth: { htpasswd: { realm: 'dockyard', path: file, admins: ['root'] } } });
  });
  after(async () => {
    await registry?.stop();
    await rm(work, { recursive: true, force: true });
  });

  const basic = (user: string, pw: string) => ({ authorization: `Basic ${Buffer.from(`${user}:${pw}`).toString('base64')}` });

  it('is protected like the operator API: the page and the stream need an admin', async () => {
    for (const p of ['/ui/', '/ui/app.js', '/ui/events/stream']) {
      const anonymous = await fetch(`${registry.url}${p}`);
      assert.equal(anonymous.status, 401, p);
      assert.match(anonymous.headers.get('www-authenticate') ?? '', /^Basic /, p);
      await anonymous.text();
      const user = await fetch(`${registry.url}${p}`, { headers: basic('alice', 'alicepw') });
      assert.equal(user.status, 403, p);
      await user.text();
    }
    const page = await fetch(`${registry.url}/ui/`, { headers: basic('root', 'rootpw') });
    assert.equal(page.status, 200);
    await page.text();
  });
});
