import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import type { Event } from '../../src/notify/event.ts';
import { withDigest, type Client } from '../helpers/client.ts';
import { ociImage, sha256 } from '../helpers/oci.ts';
import { actions, drained, received, resetBeforeEach, useWithReceiver } from './support.ts';

/**
 * Races (issue 7): many clients doing the same thing at once, a push racing a delete, a tag moved
 * while it is pulled. The store stays consistent and the events say what really happened, in order.
 */
describe('events that stay true under races', { timeout: 60_000 }, () => {
  const h = useWithReceiver();
  resetBeforeEach(h);
  const CLIENTS = 16;

  /** Chunked push of `data` in two PATCHes, then the closing PUT; returns the final response. */
  async function pushChunked(client: Client, name: string, data: Buffer, digest: string): Promise<Response> {
    let location = await client.startUpload(name);
    const half = Math.floor(data.length / 2);
    for (const [start, chunk] of [[0, data.subarray(0, half)], [half, data.subarray(half)]] as const) {
      const res = await client.patchChunk(location, chunk, start);
      await res.arrayBuffer();
      if (res.status !== 202) throw new Error(`PATCH answered ${res.status}`);
      location = res.headers.get('location')!;
    }
    return client.fetch(withDigest(location, digest), { method: 'PUT' });
  }

  /** A manifest over the shared blobs of `image`, made unique by an annotation. */
  function variant(image: ReturnType<typeof ociImage>, note: string): { body: Buffer; digest: string } {
    const json = JSON.parse(image.manifest.toString('utf8')) as Record<string, unknown>;
    json.annotations = { note };
    const body = Buffer.from(JSON.stringify(json));
    return { body, digest: sha256(body) };
  }

  async function pushBlobs(name: string, image: ReturnType<typeof ociImage>): Promise<void> {
    for (const blob of [image.config, ...image.layers]) {
      assert.equal((await h.client.pushBlob(name, blob.data, blob.digest)).status, 201);
    }
  }

  /** How often each value occurs, sorted, for comparing multisets. */
  function counts(values: string[]): [string, number][] {
    const m = new Map<string, number>();
    for (const v of values) m.set(v, (m.get(v) ?? 0) + 1);
    return [...m].sort(([a], [b]) => (a < b ? -1 : 1));
  }

  it('accepts the same blob from 16 clients at once, monolithic and chunked, with one push event each', async () => {
    const data = randomBytes(256 * 1024);
    const digest = sha256(data);
    const answers = await Promise.all(
      Array.from({ length: CLIENTS }, (_, i) =>
        i % 2 ? pushChunked(h.client, 'races/blob', data, digest) : h.client.pushBlob('races/blob', data, digest),
      ),
    );
    for (const res of answers) {
      assert.equal(res.status, 201, await res.text());
      assert.equal(res.headers.get('docker-content-digest'), digest);
    }
    const pushes = (await received(h)).filter((e) => e.action === 'push');
    assert.equal(pushes.length, CLIENTS, actions(pushes).join(', '));
    for (const e of pushes) {
      assert.equal(e.target.digest, digest);
      assert.equal(e.target.size, data.length);
      assert.equal(e.target.repository, 'races/blob');
    }
    const back = await h.client.fetch(`/v2/races/blob/blobs/${digest}`);
    assert.equal(back.status, 200);
    assert.ok(Buffer.from(await back.arrayBuffer()).equals(data), 'the blob reads back intact');
  });

  it('accepts the same manifest pushed to one tag by 16 clients at once, with one push event each', async () => {
    const image = ociImage({ layers: 1 });
    await pushBlobs('races/same', image);
    await drained(h.registry);
    h.receiver.clear();
    const answers = await Promise.all(
      Array.from({ length: CLIENTS }, () => h.client.pushManifest('races/same', 'v1', image.manifest, image.mediaType)),
    );
    for (const res of answers) assert.equal(res.status, 201, await res.text());
    const pushes = (await received(h)).filter((e) => e.action === 'push');
    assert.equal(pushes.length, CLIENTS, actions(pushes).join(', '));
    for (const e of pushes) {
      assert.equal(e.target.digest, image.digest);
      assert.equal(e.target.tag, 'v1');
    }
    const got = await h.client.fetch('/v2/races/same/manifests/v1', { headers: { accept: image.mediaType } });
    assert.equal(got.status, 200);
    assert.equal(got.headers.get('docker-content-digest'), image.digest);
    assert.ok(Buffer.from(await got.arrayBuffer()).equals(image.manifest));
  });

  it('leaves a consistent store, and events in its order, when a push by tag races a delete, 30 times', async (t) => {
    const rounds = 30;
    const name = 'races/delete';
    const image = ociImage({ layers: 1 });
    await pushBlobs(name, image);
    await drained(h.registry);
    const problems: string[] = [];
    const outcomes = { kept: 0, deleted: 0, eventsChecked: 0 };
    for (let round = 0; round < rounds; round++) {
      h.receiver.clear();
      const tag = `r${round}`;
      const m = variant(image, `round ${round}`);
      // On even rounds the delete is sent again and again while the push is in flight, so that it
      // lands at every step of the push (between revision and tag above all); on odd rounds once.
      let pushing = true;
      const pushed = h.client.pushManifest(name, tag, m.body, image.mediaType).finally(() => (pushing = false));
      let del: Response;
      do {
        del = await h.client.fetch(`/v2/${name}/manifests/${m.digest}`, { method: 'DELETE' });
        await del.arrayBuffer();
      } while (del.status === 404 && pushing && round % 2 === 0);
      const put = await pushed;
      await put.arrayBuffer();
      assert.equal(put.status, 201, `round ${round}: push`);
      assert.ok([202, 404].includes(del.status), `round ${round}: delete answered ${del.status}`);
      const events = (await received(h)).filter((e) => e.action !== 'pull');
      outcomes.eventsChecked += events.length;

      const byDigest = await h.client.fetch(`/v2/${name}/manifests/${m.digest}`, { headers: { accept: image.mediaType } });
      const byTag = await h.client.fetch(`/v2/${name}/manifests/${tag}`, { headers: { accept: image.mediaType } });
      const list = (await (await h.client.fetch(`/v2/${name}/tags/list`)).json()) as { tags: string[] | null };
      await Promise.all([byDigest.arrayBuffer(), byTag.arrayBuffer()]);
      const kept = byDigest.status === 200;
      const tagResolves = byTag.status === 200 && byTag.headers.get('docker-content-digest') === m.digest;
      const listed = (list.tags ?? []).includes(tag);
      if (kept) outcomes.kept++;
      else outcomes.deleted++;

      const where = `round ${round} (delete ${del.status}, manifest ${kept ? 'kept' : 'gone'}, tag ${tagResolves ? 'resolves' : 'gone'}${listed ? ', listed' : ''}): ${actions(events).join(', ')}`;
      const lastOf = (match: (e: Event) => boolean) => events.filter(match).at(-1)?.action;
      if (listed && !tagResolves) problems.push(`${where}: tags/list lists a tag that does not resolve`);
      if (tagResolves !== kept) problems.push(`${where}: the tag and its manifest disagree`);
      if (lastOf((e) => e.target.digest === m.digest) !== (kept ? 'push' : 'delete')) problems.push(`${where}: last manifest event`);
      if (lastOf((e) => e.target.tag === tag) !== (tagResolves ? 'push' : 'delete')) problems.push(`${where}: last tag event`);
      const deletes = events.filter((e) => e.action === 'delete' && e.target.digest === m.digest).length;
      if (deletes !== (del.status === 202 ? 1 : 0)) problems.push(`${where}: ${deletes} manifest delete events`);
      if (events.filter((e) => e.action === 'push').length !== 1) problems.push(`${where}: push events`);
    }
    assert.deepEqual(problems, [], JSON.stringify(outcomes));
    t.diagnostic(`rounds ${rounds}: ${JSON.stringify(outcomes)}`);
    assert.ok(outcomes.deleted > 0, `some deletes landed during the push: ${JSON.stringify(outcomes)}`);
  });

  it('serves one of the two manifests whole while the tag moves, and reports the digest each pull received', async (t) => {
    const name = 'races/move';
    const image = ociImage({ layers: 1 });
    await pushBlobs(name, image);
    const a = variant(image, 'a');
    const b = variant(image, 'b');
    for (const m of [a, b, a]) assert.equal((await h.client.pushManifest(name, 'live', m.body, image.mediaType)).status, 201);
    await drained(h.registry);
    h.receiver.clear();

    const moves = 40;
    const pullers = 8;
    let moving = true;
    const seen: string[] = [];
    const bad: string[] = [];
    const mover = (async () => {
      try {
        for (let i = 0; i < moves; i++) {
          const res = await h.client.pushManifest(name, 'live', (i % 2 ? a : b).body, image.mediaType);
          assert.equal(res.status, 201, await res.text());
        }
      } finally {
        moving = false;
      }
    })();
    const pull = async () => {
      while (moving) {
        const res = await h.client.fetch(`/v2/${name}/manifests/live`, { headers: { accept: image.mediaType } });
        const body = Buffer.from(await res.arrayBuffer());
        const digest = res.headers.get('docker-content-digest') ?? '';
        const known = [a, b].find((m) => m.body.equals(body));
        if (res.status !== 200 || !known || known.digest !== digest) bad.push(`${res.status} ${digest} ${body.length} bytes`);
        else seen.push(digest);
      }
    };
    await Promise.all([mover, ...Array.from({ length: pullers }, pull)]);
    assert.deepEqual(bad, [], 'every pull answer is one of the two manifests with its own digest');
    assert.ok(seen.includes(a.digest) && seen.includes(b.digest), `pulls saw both manifests (${seen.length} pulls)`);

    // A pull is reported once its body is sent: wait for all of them, then for the queue.
    await h.receiver.until(
      () => h.receiver.events().filter((e) => e.action === 'pull').length >= seen.length,
      5_000,
      () => `expected ${seen.length} pull events`,
    );
    const events = await received(h);
    const pulls = events.filter((e) => e.action === 'pull');
    assert.equal(pulls.length, seen.length, 'one pull event per pull');
    for (const e of pulls) assert.equal(e.target.tag, 'live');
    assert.deepEqual(counts(pulls.map((e) => e.target.digest!)), counts(seen), 'pull events name the digests the clients received');
    const pushes = events.filter((e) => e.action === 'push');
    assert.equal(pushes.length, moves);
    t.diagnostic(`${moves} moves, ${seen.length} pulls (${counts(seen).map(([, n]) => n).join(' + ')}), ${events.length} events checked`);
    const head = await h.client.fetch(`/v2/${name}/manifests/live`, { method: 'HEAD', headers: { accept: image.mediaType } });
    assert.equal(pushes.at(-1)!.target.digest, head.headers.get('docker-content-digest'), 'the last push names where the tag points');
  });
});
