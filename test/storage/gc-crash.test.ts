import assert from 'node:assert/strict';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Failpoints } from '../../src/storage/failpoints.ts';
import { cleanEnv, runCli } from '../cli/run-cli.ts';
import { writeConfig } from '../helpers/child-registry.ts';
import { Client } from '../helpers/client.ts';
import { ociImage, randomBlob, sha256, type ImageFixture } from '../helpers/oci.ts';
import { WebhookReceiver, eventsOf, ok } from '../helpers/receiver.ts';
import { startTestRegistry, type TestRegistry } from '../helpers/registry.ts';
import { drained, endpoint } from '../notify/support.ts';
import { nameOf } from './crash-chain.ts';
import { aged, blobFile, deleteManifest, pullsCompletely, status } from './gc-support.ts';

/**
 * `dockyard gc --delete-untagged` (the real CLI, a child process) killed with SIGKILL at each of
 * its write steps (src/storage/failpoints.ts, `gc.*`), one run after another on one root holding a
 * tagged image (kept), an untagged manifest sharing a layer with it, an image whose manifest the
 * client deleted, and an orphan blob (garbage). After each crash a registry started on the root
 * serves everything kept byte-identical; after the last, a complete collection beside one removes
 * all the garbage and leaves no quarantine, and the delete events delivered (the crashed runs',
 * an interrupted one settled by the registry at its start, and the complete run's) name exactly
 * what is gone, and nothing still there.
 */

/**
 * One case per write step (`@N`: the N-th of its kind in that run; the first run makes 1 manifest
 * delete, 5 layer-link removals, and holds then drops 7 blobs, the later ones what is left). A
 * case costs a CLI start; gc.blob.restored needs a push racing the run (gc-races.test.ts).
 */
const CASES = [Failpoints.gcManifestDeleted, `${Failpoints.gcLinkRemoved}@3`, `${Failpoints.gcBlobHeld}@4`, `${Failpoints.gcBlobDropped}@6`];

interface Fixture {
  root: string;
  kept: ImageFixture;
  untagged: ImageFixture;
  deleted: ImageFixture;
  orphan: { data: Buffer; digest: string };
}

/** An image with one layer of its own and, when given, `shared` as its second. */
function image(shared?: { data: Buffer; digest: string }): ImageFixture {
  const fixture = ociImage({ layers: 1 });
  if (!shared) return fixture;
  const body = JSON.parse(fixture.manifest.toString('utf8')) as { layers: unknown[] };
  body.layers.push({ mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', digest: shared.digest, size: shared.data.length });
  fixture.layers.push(shared);
  fixture.manifest = Buffer.from(JSON.stringify(body));
  fixture.digest = sha256(fixture.manifest);
  return fixture;
}

describe('dockyard gc killed at each of its steps', { timeout: 120_000 }, () => {
  let dir: string;
  let f: Fixture;
  before(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'dockyard-gc-crash-'));
    const root = path.join(dir, 'data');
    const registry = await startTestRegistry({ storage: { filesystem: { rootdirectory: root }, delete: { enabled: true } } });
    try {
      const client = new Client(registry.url);
      const kept = await client.pushImage('keep', 'v1', image());
      const shares = image(kept.layers[0]);
      const untagged = await client.pushImage('keep', shares.digest, shares);
      const deleted = await client.pushImage('gone', 'v1', image());
      await deleteManifest(client, 'gone', deleted.digest);
      const orphan = randomBlob(3000);
      assert.equal((await client.pushBlob('junk', orphan.data, orphan.digest)).status, 201);
      f = { root, kept, untagged, deleted, orphan };
    } finally {
      await registry.close(); // the storage stays
      await rm(registry.root, { recursive: true, force: true });
    }
    await aged();
  });
  after(() => rm(dir, { recursive: true, force: true }));

  /** Digests whose data the collection must remove, and the `repository digest` of each delete event it owes. */
  const garbage = () => [f.untagged.digest, f.untagged.config.digest, f.untagged.layers[0]!.digest, f.deleted.digest, f.deleted.config.digest, f.deleted.layers[0]!.digest, f.orphan.digest];
  const deletions = () =>
    [
      `keep ${f.untagged.digest}`,
      `keep ${f.untagged.config.digest}`,
      `keep ${f.untagged.layers[0]!.digest}`,
      `gone ${f.deleted.config.digest}`,
      `gone ${f.deleted.layers[0]!.digest}`,
      `junk ${f.orphan.digest}`,
    ].sort();

  const servesKept = async (client: Client) => {
    await pullsCompletely(client, 'keep', 'v1', f.kept.digest);
    await pullsCompletely(client, 'keep', f.kept.digest);
  };

  // The cases run one after another on one root, as crash-chain.ts runs its cases: each armed run
  // first puts back what the one before it left moved aside, then dies at its own step; a registry
  // started after each crash must serve what is kept. Only then does a complete run go.
  let root: string;
  let config: string;
  let settings: Record<string, unknown>;
  let receiver: WebhookReceiver;
  before(async () => {
    root = f.root;
    receiver = await WebhookReceiver.start(ok);
    settings = {
      log: { level: 'warn' },
      storage: { filesystem: { rootdirectory: root }, delete: { enabled: true }, gc: { delay: '0s' }, maintenance: { uploadpurging: { enabled: false } } },
      notifications: { endpoints: [endpoint(receiver)] },
    };
    config = await writeConfig(dir, settings);
  });
  after(() => receiver?.close());

  /** A registry on the root, in this process (the collector is the process under test): it settles at its start the intent of a change a crash cut short. */
  const withRegistry = async (check: (client: Client, registry: TestRegistry) => Promise<void>) => {
    const registry = await startTestRegistry(settings);
    try {
      await check(new Client(registry.url), registry);
    } finally {
      await registry.stop(); // its own (unused) temp directory goes, not the root
    }
  };

  for (const failpoint of CASES) {
    it(`killed at ${failpoint}: a registry started on the root serves everything kept, whole`, async () => {
      const crashed = await runCli(['gc', '--delete-untagged', config], 60_000, cleanEnv({ DOCKYARD_FAILPOINTS: failpoint }));
      assert.equal(crashed.signal, 'SIGKILL', `the collector ran to its end: ${crashed.stdout}${crashed.stderr}`);
      assert.ok(crashed.stderr.includes(`failpoint ${nameOf(failpoint)} reached`), crashed.stderr);
      await withRegistry(servesKept);
    });
  }

  it('then a complete run removes all the garbage, leaves no quarantine, and the delete events name exactly what went', async () => {
    await withRegistry(async (client, registry) => {
      const complete = await runCli(['gc', '--delete-untagged', config], 60_000);
      assert.equal(complete.code, 0, complete.stderr);
      await servesKept(client);
      for (const digest of garbage()) assert.ok(!existsSync(blobFile(root, digest)), `garbage ${digest} is gone`);
      for (const blob of [f.kept.config, ...f.kept.layers]) assert.ok(existsSync(blobFile(root, blob.digest)), `kept ${blob.digest}`);
      assert.deepEqual(await readdir(path.join(root, 'docker/registry/v2/_gc')).catch(() => []), [], 'no quarantine left');
      assert.equal(await status(client, `/v2/keep/manifests/${f.untagged.digest}`, 'HEAD'), 404);

      await drained(registry, 'hook', 15_000);
      const deletes = receiver.requests.flatMap(eventsOf).filter((e) => e.action === 'delete');
      assert.ok(deletes.every((e) => e.actor?.internal === 'gc'), 'every delete is the collector’s');
      assert.deepEqual([...new Set(deletes.map((e) => `${e.target.repository} ${e.target.digest}`))].sort(), deletions());
    });
  });
});
