import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Failpoints } from '../../src/storage/failpoints.ts';
import { ChildRegistry, freePort, writeConfig } from '../helpers/child-registry.ts';
import { Client } from '../helpers/client.ts';
import { ociImage, sha256 } from '../helpers/oci.ts';
import { WebhookReceiver, eventsOf, ok } from '../helpers/receiver.ts';
import { drained, endpoint } from '../notify/support.ts';
import { nameOf } from './crash-chain.ts';
import { checkFiles } from './crash-checks.ts';
import { expectManifest } from './crash-operations.ts';
import { writeLegacyImage } from './legacy-layout.ts';

/**
 * The layout migration at start (src/storage/layout-migration.ts) killed at each of its steps: a
 * data root of Dockyard's earlier layout (three repositories, JSON revision links) is started
 * with DOCKYARD_FAILPOINTS set, the start dies there (SIGKILL), possibly again at a later step on
 * the next start; a clean start then finishes the move, serves every image byte-identical and
 * leaves nothing of the old layout behind, without reporting the migrated images as pushes.
 */

const F = Failpoints;
/** Each case: the failpoints of the starts that die, one after another, on one root. */
const CASES: string[][] = [
  [`${F.migrationLinkRewritten}@1`],
  [`${F.migrationLinkRewritten}@2`, `${F.migrationRenamed}@1`],
  [`${F.migrationRenamed}@1`, `${F.migrationRenamed}@1`],
  [`${F.migrationRenamed}@2`],
];
const REPOS = ['old/app', 'old/tools/cli', 'web'];

describe('crash during the layout migration at start', { concurrency: CASES.length }, () => {
  let work: string;
  before(async () => {
    work = await mkdtemp(path.join(tmpdir(), 'dockyard-migration-crash-'));
  });
  after(() => rm(work, { recursive: true, force: true }));

  CASES.forEach((failpoints, i) => {
    it(`a start killed at ${failpoints.join(', then ')} is finished by the next one, which serves every image byte-identical`, async (t) => {
      const dir = path.join(work, `case-${i}`);
      const root = path.join(dir, 'data');
      await mkdir(root, { recursive: true });
      const images = await Promise.all(REPOS.map((repo) => writeLegacyImage(root, repo, 'v1').then((img) => ({ repo, ...img }))));
      // The receiver first: a port found free and then taken by it would answer for the registry.
      const receiver = await WebhookReceiver.start(ok);
      const port = await freePort();
      const config = await writeConfig(dir, {
        log: { level: 'error' },
        http: { addr: `127.0.0.1:${port}` },
        storage: { filesystem: { rootdirectory: root }, delete: { enabled: true } },
        notifications: { endpoints: [endpoint(receiver)] },
      });
      let registry: ChildRegistry | undefined;
      try {
        for (const failpoint of failpoints) {
          await assert.rejects(
            ChildRegistry.start(config, port, 30_000, { DOCKYARD_FAILPOINTS: failpoint }),
            (err: Error) => err.message.includes(`failpoint ${nameOf(failpoint)} reached`),
            `the start armed with ${failpoint} dies there`,
          );
        }
        registry = await ChildRegistry.start(config, port);
        const c = new Client(registry.url);
        assert.deepEqual((await readdir(root)).filter((e) => !e.startsWith('_')), ['docker'], 'nothing of the old layout is left at the top');
        const catalog = (await (await c.fetch('/v2/_catalog')).json()) as { repositories: string[] };
        assert.deepEqual(catalog.repositories, [...REPOS].sort());
        for (const { repo, digest, manifest, image, blobs } of images) {
          assert.deepEqual(await (await c.fetch(`/v2/${repo}/tags/list`)).json(), { name: repo, tags: ['v1'] });
          for (const reference of ['v1', digest]) {
            const res = await c.fetch(`/v2/${repo}/manifests/${reference}`, { headers: { accept: image.mediaType } });
            assert.equal(res.status, 200, `${repo}:${reference}`);
            assert.equal(res.headers.get('content-type'), image.mediaType);
            assert.ok(Buffer.from(await res.arrayBuffer()).equals(manifest), `${repo}:${reference} byte-identical`);
          }
          for (const b of blobs) {
            const res = await c.fetch(`/v2/${repo}/blobs/${b.digest}`);
            assert.equal(res.status, 200);
            assert.ok(Buffer.from(await res.arrayBuffer()).equals(b.data), `${repo}@${b.digest} byte-identical`);
          }
          // Distribution reads a revision link as the digest alone: none is left in the old JSON form.
          const hex = digest.slice('sha256:'.length);
          const link = await readFile(path.join(root, 'docker/registry/v2/repositories', repo, '_manifests/revisions/sha256', hex, 'link'), 'utf8');
          assert.equal(link, digest);
        }
        await checkFiles(root);
        // The migrated root takes writes, and what the migration moved was never reported as pushed.
        const next = ociImage({ layers: 1 });
        for (const b of [next.config, ...next.layers]) assert.equal((await c.pushBlob('web', b.data, b.digest)).status, 201);
        assert.equal((await c.pushManifest('web', 'v2', next.manifest, next.mediaType)).status, 201);
        await expectManifest(c, 'web', 'v2', sha256(next.manifest));
        await drained(registry, 'hook', 15_000);
        const pushed = receiver.requests.flatMap(eventsOf).filter((e) => e.action === 'push' && e.target.tag);
        assert.deepEqual(pushed.map((e) => `${e.target.repository}:${e.target.tag}@${e.target.digest}`), [`web:v2@${next.digest}`]);
        t.diagnostic(`${failpoints.length} killed start(s), then ${REPOS.length} repositories served byte-identical`);
      } finally {
        await registry?.kill();
        await receiver.close();
      }
    });
  });
});
