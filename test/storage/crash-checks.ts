import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readdir } from 'node:fs/promises';
import * as path from 'node:path';
import type { Event } from '../../src/notify/event.ts';
import { listOptional } from '../../src/storage/content-store.ts';
import { isNotFound, type StorageDriver } from '../../src/storage/driver.ts';
import { FilesystemDriver } from '../../src/storage/filesystem-driver.ts';
import { STORAGE_PREFIX, layout } from '../../src/storage/layout.ts';
import type { Client } from '../helpers/client.ts';
import { sha256 } from '../helpers/oci.ts';
import { ACCEPT, expectBlob, expectManifest, type Fact, type Known } from './crash-operations.ts';

/** The invariants a crash must not break (crash-points.test.ts), checked after each restart. */

/**
 * Everything the registry lists is readable and intact; everything acknowledged is there; what
 * `checkFiles` checks beneath the API holds; and every tag it shows has a delivered push event for that tag and digest (state without event).
 */
export async function checkStore(
  c: Client,
  checkFiles: () => Promise<void>,
  known: Known,
  events: readonly Event[],
): Promise<{ repositories: number; tags: number; blobs: number }> {
  const untold: string[] = [];
  const catalog = (await (await c.fetch('/v2/_catalog?n=1000')).json()) as { repositories: string[] };
  let tags = 0;
  let blobs = 0;
  for (const repo of catalog.repositories) {
    const res = await c.fetch(`/v2/${repo}/tags/list`);
    assert.equal(res.status, 200, `tags/list of listed repository ${repo}`);
    for (const tag of ((await res.json()) as { tags: string[] }).tags) {
      const m = await c.fetch(`/v2/${repo}/manifests/${tag}`, { headers: { accept: ACCEPT } });
      assert.equal(m.status, 200, `listed tag ${repo}:${tag} resolves`);
      const body = Buffer.from(await m.arrayBuffer());
      assert.equal(m.headers.get('docker-content-digest'), sha256(body), `listed tag ${repo}:${tag} serves its digest`);
      const digest = sha256(body);
      if (!events.some((e) => e.action === 'push' && e.target.repository === repo && e.target.tag === tag && e.target.digest === digest)) {
        untold.push(`${repo}:${tag}@${digest}`);
      }
      const expected = known.tags.get(`${repo}:${tag}`);
      if (expected) assert.equal(sha256(body), expected, `tag ${repo}:${tag} names what was pushed`);
      const parsed = JSON.parse(body.toString('utf8')) as { config?: { digest: string }; layers?: { digest: string }[] };
      for (const d of [parsed.config, ...(parsed.layers ?? [])]) {
        if (d) {
          await expectBlob(c, repo, d.digest);
          blobs++;
        }
      }
      tags++;
    }
  }
  assert.deepEqual(untold, [], 'tags the registry shows without a push event for that tag and digest');
  for (const [key, digest] of known.tags) {
    const [repo, tag] = key.split(':') as [string, string];
    await expectManifest(c, repo, tag, digest);
  }
  for (const { repo, digest } of known.blobs.values()) await expectBlob(c, repo, digest);
  await checkFiles();
  return { repositories: catalog.repositories.length, tags, blobs };
}

/** On disk: what `checkDriverFiles` checks, and no temp file anywhere but in _tmp. */
export async function checkFiles(dataRoot: string): Promise<void> {
  await checkDriverFiles(new FilesystemDriver(dataRoot, { fsync: false }));
  // Distribution's layout: everything the stores write lives under docker/registry/v2.
  const root = path.join(dataRoot, STORAGE_PREFIX);
  // Temp files and staged subtrees live in _tmp only, never beside what they become.
  const strays: string[] = [];
  const scan = async (rel: string): Promise<void> => {
    for (const e of await readdir(path.join(root, rel), { withFileTypes: true }).catch(() => [])) {
      if (/\.tmp$|\.(file|dir|trash)$/.test(e.name)) strays.push(`${rel}/${e.name}`);
      if (e.isDirectory()) await scan(`${rel}/${e.name}`);
    }
  };
  await scan('repositories');
  await scan('blobs');
  assert.deepEqual(strays, [], 'temp files outside _tmp');
}

/**
 * Through the driver (so on any storage): every tag, revision and layer directory holds its
 * link, and every blob's bytes have its digest.
 */
export async function checkDriverFiles(driver: StorageDriver): Promise<void> {
  const exists = async (p: string) => driver.stat(p).then(() => true, (err: unknown) => (isNotFound(err) ? false : Promise.reject(err)));
  const repos: string[] = [];
  const walk = async (rel: string): Promise<void> => {
    const children = await listOptional(driver, rel);
    if (children.includes('_manifests') || children.includes('_layers')) repos.push(rel);
    for (const child of children) if (!child.startsWith('_')) await walk(`${rel}/${child}`);
  };
  await walk(layout.repositoriesRoot);
  for (const repo of repos) {
    for (const tag of await listOptional(driver, `${repo}/_manifests/tags`)) {
      assert.ok(await exists(`${repo}/_manifests/tags/${tag}/current/link`), `tag directory ${repo}:${tag} without its link`);
    }
    for (const kind of ['_manifests/revisions', '_layers']) {
      for (const alg of await listOptional(driver, `${repo}/${kind}`)) {
        for (const hex of await listOptional(driver, `${repo}/${kind}/${alg}`)) {
          assert.ok(await exists(`${repo}/${kind}/${alg}/${hex}/link`), `${kind} directory ${repo} ${hex} without its link`);
        }
      }
    }
  }
  const blobs = `${layout.blobsRoot}/sha256`;
  for (const prefix of await listOptional(driver, blobs)) {
    for (const hex of await listOptional(driver, `${blobs}/${prefix}`)) {
      const data = await driver.getContent(`${blobs}/${prefix}/${hex}/data`).catch(() => assert.fail(`blob directory ${hex} without its data`));
      assert.equal(createHash('sha256').update(data).digest('hex'), hex, `blob ${hex} holds other bytes`);
    }
  }
}

/**
 * For each outcome the interrupted request may have reached: if the store shows it, its event
 * was delivered; if not, no event reports it. Returns how many held.
 */
export async function checkFacts(c: Client, facts: readonly Fact[], events: readonly Event[]): Promise<number> {
  let held = 0;
  for (const fact of facts) {
    const reported = events.some((e) => fact.reports(e));
    if (await fact.holds(c)) {
      held++;
      assert.ok(reported, `${fact.what}, but no event says so`);
    } else {
      assert.ok(!reported, `an event says ${fact.what}, but the store does not show it`);
    }
  }
  return held;
}
