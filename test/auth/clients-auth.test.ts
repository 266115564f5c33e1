import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import type { Event } from '../../src/notify/event.ts';
import { buildImage, descriptor, imageBlobs, Skopeo, writeLayout, type Image } from '../e2e/skopeo-fixtures.ts';
import { AuthClient, assertNothingStored, awaitMarker, layoutOf, serviceToken, under } from './skopeo-auth-support.ts';
import { Containerd, failure, Podman, startLoggedRegistry, type LoggedRegistry, type RequestLine } from './clients-auth-support.ts';
import { SERVICE } from './service-support.ts';

/**
 * Two more real clients against the built-in token service: Debian's podman 4.3 (containers/image,
 * like skopeo) and containerd 1.6's `ctr` (its own resolver, which asks for tokens with the OAuth2
 * password grant, POST /auth/token). alice may push team/**, bob may only pull team/*; a refused
 * push leaves nothing and emits no event; the events of allowed operations name the user.
 */

const run = promisify(execFile);
const V1 = buildImage('oci', 2);

/** A registry with team/app:v1 (V1) pushed by alice through skopeo, plus a work directory. */
function useRegistry(prefix: string) {
  const state: { h?: LoggedRegistry; work?: string } = {};
  before(async () => {
    // Lowercase (podman names an image pulled from `oci:DIR` after DIR) and short (podman's runroot: 50 characters at most).
    state.work = path.join(tmpdir(), `${prefix}${randomBytes(4).toString('hex')}`);
    await mkdir(state.work, { mode: 0o700 });
    state.h = await startLoggedRegistry();
    const skopeo = await Skopeo.create(path.join(state.work, 'skopeo'));
    const src = await layoutOf(under(state.work, 'v1'), V1);
    await skopeo.run('copy', '--dest-tls-verify=false', '--dest-creds', `alice:${state.h.users.passwords.alice}`, src, `docker://127.0.0.1:${state.h.registry.port}/team/app:v1`);
  });
  after(async () => {
    await state.h?.stop();
    if (state.work) await rm(state.work, { recursive: true, force: true });
  });
  const h = () => state.h!;
  return {
    h,
    work: () => state.work!,
    host: () => `127.0.0.1:${h().registry.port}`,
    pw: (user: 'alice' | 'bob') => h().users.passwords[user],
    /** alice's view of the registry, with a token for `repository:<name>:pull`. */
    alice: async (name = 'team/app') => new AuthClient(h().registry.url, `Bearer ${await serviceToken(h().registry.url, SERVICE, 'alice', h().users.passwords.alice, [`repository:${name}:pull`])}`),
  };
}

/** Waits until every event of what was done so far has arrived (a marker pull), then forgets them all. */
async function quiesce(r: ReturnType<typeof useRegistry>): Promise<void> {
  await awaitMarker(await r.alice(), r.h().receiver, 'team/app', 'v1', V1.mediaType);
  r.h().receiver.clear();
}

/** The events received since the last quiesce, once a marker pull shows they have all arrived. */
async function eventsSince(r: ReturnType<typeof useRegistry>): Promise<Event[]> {
  const events = await awaitMarker(await r.alice(), r.h().receiver, 'team/app', 'v1', V1.mediaType);
  return events.filter((e) => !e.request.useragent.startsWith('dockyard-marker/'));
}

/** The served manifest of `name:tag` and its digest; every blob it names is served too. */
async function assertServed(client: AuthClient, name: string, tag: string): Promise<{ digest: string; config: string; layers: string[] }> {
  const res = await client.fetch(`/v2/${name}/manifests/${tag}`, { headers: { accept: 'application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.v2+json' } });
  const text = await res.text();
  assert.equal(res.status, 200, `GET manifest ${name}:${tag}: ${text.slice(0, 300)}`);
  const manifest = JSON.parse(text) as { config: { digest: string }; layers: { digest: string; size: number }[] };
  for (const layer of manifest.layers) {
    const head = await client.fetch(`/v2/${name}/blobs/${layer.digest}`, { method: 'HEAD' });
    assert.equal(head.status, 200, `HEAD layer ${layer.digest} of ${name}:${tag}`);
    assert.equal(head.headers.get('content-length'), String(layer.size), `size of layer ${layer.digest}`);
  }
  assert.equal((await client.fetch(`/v2/${name}/blobs/${manifest.config.digest}`, { method: 'HEAD' })).status, 200, 'HEAD config');
  return { digest: res.headers.get('docker-content-digest')!, config: manifest.config.digest, layers: manifest.layers.map((l) => l.digest) };
}

/** The push events of `name` (one per blob plus the manifest's, tagged `tag`) all name `actor`. */
function assertPushedBy(events: Event[], name: string, tag: string, served: { digest: string; config: string; layers: string[] }, actor: string): void {
  const pushes = events.filter((e) => e.action === 'push' && e.target.repository === name);
  const manifest = pushes.find((e) => e.target.tag === tag && e.target.digest === served.digest);
  assert.ok(manifest, `no push event for ${name}:${tag}: ${JSON.stringify(pushes.map((e) => [e.target.digest, e.target.tag]))}`);
  assert.deepEqual([...new Set(pushes.map((e) => e.target.digest))].sort(), [served.digest, served.config, ...served.layers].sort(), 'push events of the blobs and the manifest');
  for (const e of pushes) assert.deepEqual(e.actor, { name: actor }, `actor of the push of ${e.target.digest}`);
}

function tokenRequests(lines: RequestLine[]): RequestLine[] {
  return lines.filter((l) => l.url.split('?')[0] === '/auth/token');
}

describe('podman 4.3 with the built-in token service', { timeout: 300_000 }, () => {
  const r = useRegistry('dockyard-podman-');
  let podman: Podman;
  before(async () => {
    podman = await Podman.create(path.join(r.work(), 'podman'), r.host());
  });

  /** Puts `image` (written as an OCI layout) into podman's storage; returns its image id. */
  async function load(image: Image): Promise<string> {
    const dir = under(r.work(), 'podman-src');
    await writeLayout(dir, imageBlobs(image), descriptor(image.mediaType, image.manifest), 'latest');
    await podman.run('pull', '--signature-policy', podman.policy, `oci:${dir}:latest`);
    return image.config.digest.slice('sha256:'.length);
  }

  it('logs alice in with her password and refuses a wrong one', async () => {
    await podman.run('login', '--tls-verify=false', '--authfile', podman.authfile('alice'), '-u', 'alice', '-p', r.pw('alice'), r.host());
    const auth = JSON.parse(await readFile(podman.authfile('alice'), 'utf8')) as { auths: Record<string, unknown> };
    assert.ok(auth.auths[r.host()], `no entry for ${r.host()} in the auth file`);

    const wrong = await failure(podman.run('login', '--tls-verify=false', '--authfile', podman.authfile('wrong'), '-u', 'alice', '-p', `not-${r.pw('alice')}`, r.host()));
    assert.match(wrong, /invalid username\/password|unauthorized/i, 'podman should report the refused login');
  });

  it('pulls team/app:v1 as bob: the image id and digest are those of V1', async () => {
    await podman.run('login', '--tls-verify=false', '--authfile', podman.authfile('bob'), '-u', 'bob', '-p', r.pw('bob'), r.host());
    await quiesce(r);
    await podman.run('pull', '--tls-verify=false', '--authfile', podman.authfile('bob'), '--signature-policy', podman.policy, `${r.host()}/team/app:v1`);
    const [id, digest] = (await podman.run('image', 'inspect', '--format', '{{.Id}} {{.Digest}}', `${r.host()}/team/app:v1`)).trim().split(' ');
    assert.equal(`sha256:${id}`, V1.config.digest, 'image id');
    assert.equal(digest, V1.manifest.digest, 'manifest digest');
    const pulls = (await eventsSince(r)).filter((e) => e.action === 'pull');
    assert.ok(pulls.some((e) => e.target.digest === V1.manifest.digest), 'the manifest pull was reported');
    for (const e of pulls) assert.deepEqual(e.actor, { name: 'bob' }, `actor of the pull of ${e.target.digest}`);
  });

  it('pushes a new tag as alice: the registry serves it and its events name alice', async () => {
    const id = await load(buildImage('oci', 2));
    await podman.run('tag', id, `${r.host()}/team/app:podman`);
    await quiesce(r);
    const digestFile = path.join(r.work(), 'podman-digest');
    await podman.run('push', '--tls-verify=false', '--authfile', podman.authfile('alice'), '--digestfile', digestFile, `${r.host()}/team/app:podman`);
    const served = await assertServed(await r.alice(), 'team/app', 'podman');
    assert.equal(served.digest, (await readFile(digestFile, 'utf8')).trim(), 'the digest podman pushed');
    assert.equal(served.config, `sha256:${id}`, 'config of the pushed image');
    assertPushedBy(await eventsSince(r), 'team/app', 'podman', served, 'alice');
  });

  it('refuses bob a push: podman fails, nothing is stored, no push event is sent', async () => {
    const image = buildImage('oci', 2);
    await podman.run('tag', await load(image), `${r.host()}/team/app:bob`);
    await quiesce(r);
    const message = await failure(podman.run('push', '--tls-verify=false', '--authfile', podman.authfile('bob'), `${r.host()}/team/app:bob`));
    assert.match(message, /denied/i, 'podman should report the 403 DENIED');
    await assertNothingStored(await r.alice(), 'team/app', 'bob', image);
    // podman recompresses layers from its storage; the uncompressed layers (diff ids) are not stored either.
    const diffIds = (JSON.parse(image.config.data.toString('utf8')) as { rootfs: { diff_ids: string[] } }).rootfs.diff_ids;
    const alice = await r.alice();
    for (const d of diffIds) assert.equal((await alice.fetch(`/v2/team/app/blobs/${d}`, { method: 'HEAD' })).status, 404, `HEAD ${d}`);
    assert.deepEqual((await eventsSince(r)).filter((e) => e.action === 'push'), [], 'push events of the refused push');
  });
});

describe('containerd 1.6 (ctr) with the built-in token service', { timeout: 300_000 }, () => {
  const r = useRegistry('dockyard-ctr-');
  let containerd: Containerd | undefined;
  before(async () => {
    containerd = await Containerd.start(path.join(r.work(), 'containerd'));
  });
  after(async () => {
    await containerd?.stop();
  });
  const ctr = (...args: string[]) => containerd!.ctr(...args);

  /** Runs `what` and returns the requests the registry logged meanwhile. */
  async function logged(what: () => Promise<unknown>): Promise<RequestLine[]> {
    const from = r.h().requests().length;
    await what();
    return r.h().requests().slice(from);
  }

  /** containerd asked for its tokens with the OAuth2 form (POST /auth/token, grant_type=password) and it was granted. */
  function assertPasswordGrant(lines: RequestLine[], what: string): void {
    const tokens = tokenRequests(lines);
    assert.ok(tokens.length > 0, `${what}: no token request`);
    assert.deepEqual(tokens.map((l) => `${l.method} ${l.url} ${l.status}`), tokens.map(() => 'POST /auth/token 200'), `${what}: token requests`);
  }

  /** Imports `image` into containerd from an OCI archive; returns the name it got. */
  async function load(image: Image, baseName: string): Promise<string> {
    const dir = under(r.work(), 'ctr-src');
    await writeLayout(dir, imageBlobs(image), descriptor(image.mediaType, image.manifest), 'latest');
    const archive = `${dir}.tar`;
    await run('tar', ['-C', dir, '-cf', archive, 'oci-layout', 'index.json', 'blobs']);
    await ctr('images', 'import', '--base-name', baseName, archive);
    return `${baseName}:latest`;
  }

  it('pulls team/app:v1 as bob, asking for tokens with the password grant', async () => {
    await quiesce(r);
    const lines = await logged(() => ctr('images', 'pull', '--plain-http', '--user', `bob:${r.pw('bob')}`, `${r.host()}/team/app:v1`));
    assertPasswordGrant(lines, 'ctr pull');
    const content = (await ctr('content', 'ls', '-q')).split('\n');
    for (const b of imageBlobs(V1)) assert.ok(content.includes(b.digest), `containerd holds ${b.digest}`);
    assert.ok((await ctr('images', 'ls', '-q')).split('\n').includes(`${r.host()}/team/app:v1`), 'containerd lists team/app:v1');
    const pulls = (await eventsSince(r)).filter((e) => e.action === 'pull');
    assert.deepEqual([...new Set(pulls.map((e) => e.target.digest))].sort(), imageBlobs(V1).map((b) => b.digest).sort(), 'pull events');
    for (const e of pulls) assert.deepEqual(e.actor, { name: 'bob' }, `actor of the pull of ${e.target.digest}`);
  });

  it('pushes a tag as alice: team/app:ctr resolves to the pushed image and its events name alice', async () => {
    const image = buildImage('oci', 2);
    const local = await load(image, `${r.host()}/import/alice`);
    await ctr('images', 'tag', local, `${r.host()}/team/app:ctr`);
    await quiesce(r);
    const lines = await logged(() => ctr('images', 'push', '--plain-http', '--user', `alice:${r.pw('alice')}`, `${r.host()}/team/app:ctr`));
    assertPasswordGrant(lines, 'ctr push');
    const served = await assertServed(await r.alice(), 'team/app', 'ctr');
    assert.deepEqual(served, { digest: image.manifest.digest, config: image.config.digest, layers: image.layers.map((l) => l.digest) });
    assertPushedBy(await eventsSince(r), 'team/app', 'ctr', served, 'alice');
  });

  it('refuses bob a push: ctr fails, nothing is stored, no push event is sent', async () => {
    const image = buildImage('oci', 2);
    const local = await load(image, `${r.host()}/import/bob`);
    await ctr('images', 'tag', local, `${r.host()}/team/app:ctr-bob`);
    await quiesce(r);
    let message = '';
    const lines = await logged(async () => {
      message = await failure(ctr('images', 'push', '--plain-http', '--user', `bob:${r.pw('bob')}`, `${r.host()}/team/app:ctr-bob`));
    });
    assert.match(message, /403 Forbidden/, 'ctr should report the 403');
    assertPasswordGrant(lines, 'ctr push as bob');
    assert.ok(lines.some((l) => l.method === 'POST' && l.url.startsWith('/v2/team/app/blobs/uploads/') && l.status === 403), 'an upload was refused with 403');
    await assertNothingStored(await r.alice(), 'team/app', 'ctr-bob', image);
    assert.deepEqual((await eventsSince(r)).filter((e) => e.action === 'push'), [], 'push events of the refused push');
  });
});
