import type { Logger } from 'pino';
import type { Digest } from '../../oci/digest.ts';
import type { RepoName } from '../../oci/names.ts';
import { layout } from '../layout.ts';
import type { Repository } from '../repository.ts';
import type { StorageRegistry } from '../storage-registry.ts';
import { ManifestKeptError } from './untagging.ts';
import { ManifestReader, markAll } from './mark.ts';
import { Quarantine, listBlobs, removeEmptyRepository, removeLayerLink, statOptional, linkedNow, unlessGone, uploadsSettled } from './sweep.ts';

export interface GcOptions {
  /** Report what would go, change nothing, emit nothing. */
  dryRun: boolean;
  /** Also delete manifests no tag reaches (neither tagged, nor a tagged index's child, nor a kept manifest's referrer). */
  deleteUntagged: boolean;
  /** Grace period: nothing whose data or link was written after (start - delayMs) is removed. */
  delayMs: number;
}

/** How long blobs moved aside wait before the last look: at most this, and never longer than the delay. */
export const MAX_SETTLE_MS = 5_000;

export interface GcDependencies {
  /**
   * Decorates the repository the collector deletes through (StorageRegistry.collectorRepository):
   * the notifier's listener, so deletions emit events.
   */
  listen?: (repo: Repository) => Repository;
  now?: () => Date;
  /** The wait before the last look (tests hold the collector there); default a timer. */
  sleep?: (ms: number) => Promise<void>;
}

export interface GcReport {
  dryRun: boolean;
  blobsRemoved: number;
  bytesFreed: number;
  manifestsRemoved: number;
  layerLinksRemoved: number;
  repositoriesRemoved: number;
  /** Unreferenced blobs or links left because they are younger than the grace period, or came back into use during the run. */
  kept: { young: number; reclaimedByPush: number };
  repositories: number;
  blobsSeen: number;
  durationMs: number;
}

/**
 * Distribution's mark and sweep, run while the registry serves. Mark: every manifest revision of
 * every repository (with `deleteUntagged`, only those a tag reaches, see markRepository), and all
 * it references. Sweep: untagged manifests (through the repository: `delete` events), layer links
 * a repository's kept manifests do not reference (`delete` events, one per repository), blob data
 * no repository references any more (blobs are global: no repository to name, no event), and
 * repositories left with nothing (they leave the catalog).
 *
 * Safe against concurrent pushes, on one process or several sharing a bucket, by three rules of
 * the collector and one of the writers:
 *  1. Grace by age: nothing whose data, revision link or layer link was written after
 *     `cutoff = start - delay` is a candidate. A push writes every link it makes (a layer link at
 *     upload completion or mount, a revision link at every manifest PUT, even of bytes already
 *     stored), so anything a push in progress made is younger than the cutoff. Ages are the
 *     storage's mtimes (S3: LastModified, the server's clock): `delay` must exceed clock skew and
 *     the time a client takes from its first blob to its manifest.
 *  2. Fresh marks after choosing: the candidates are chosen from a first mark, then everything is
 *     marked again from a fresh listing before anything is removed, and a candidate marked then
 *     (or whose link was rewritten: age checked again at removal) stays.
 *  3. Move aside, settle, look, then delete: candidate blob data is moved out of blobs/ into
 *     `_gc/<run>/` (HOLD), and after a settle time (min(delay, MAX_SETTLE_MS)) every repository
 *     is listed and marked again (LOOK; manifests still held are read where they are held): a held
 *     blob linked or referenced then is put back, as is a layer link this run removed that a
 *     manifest pushed since references (its delete event has gone out); the rest is deleted (DROP).
 *  4. The writers check again after writing (reclaim.ts): a manifest PUT once its revision link
 *     is written (each referenced blob in blobs/ and layer-linked, a link the collector removed
 *     written again; each child's revision there), a mount and an upload completion once their
 *     layer link is written. A blob missing from blobs/ is taken back from `_gc/` (RECLAIM: a
 *     move, atomic against DROP's delete of the same path); one gone for good makes the write undo
 *     its link and fail (MANIFEST_BLOB_UNKNOWN, BLOB_UNKNOWN; a mount is refused, the client
 *     uploads; an upload completion publishes its own bytes): a 4xx, so the change emits no event.
 * Why 3 and 4 close the check-then-write race, whatever the request's speed: the writer does
 * WRITE(link) then RECHECK, the collector HOLD then LOOK, each in order on strongly consistent
 * storage, so one of the two sees the other. RECHECK before HOLD: WRITE < HOLD < LOOK, and LOOK
 * sees the link and puts the blob back. RECHECK after HOLD: the blob is missing; before DROP,
 * RECLAIM takes it back (DROP then finds nothing and keeps it, or LOOK saw the link and restore
 * finds it in place); after DROP, LOOK came before WRITE (else it had kept the blob), and the
 * write is undone. A layer link this run removed is put back by LOOK (which saw the revision) or
 * by RECHECK (which saw the link gone): REMOVE then LOOK vs WRITE then RECHECK.
 * `--delete-untagged` (ManifestStore.deleteUntagged, untagging.ts): the delete takes the revision
 * only, never a tag. It ANNOUNCEs itself (a file in the revision's directory), then checks the
 * revision's age and its tags, deletes it, and looks for tags again; a push of the manifest
 * writes its revision, then its tag, then waits while an announcement is there, and writes the
 * revision again if it is gone (then checks its references once more). A push whose revision
 * write came before ANNOUNCE is seen by the age check (kept); for one after, the announcement is
 * still there (it waits) or already gone when the push looks, so its re-check comes after the
 * delete. A tag written before the look after the delete is seen by it (the revision is put back,
 * no event); one after comes with a re-check that finds the revision gone and writes it again
 * (the collector's `delete` event is followed by the push's).
 * What is left (README, "Garbage collection"): an upload started in a repository as it is
 * removed; a collector slower than UNTAGGING_MAX_MS between its announcement and its delete.
 */
export async function collectGarbage(
  registry: StorageRegistry,
  options: GcOptions,
  logger: Logger,
  deps: GcDependencies = {},
): Promise<GcReport> {
  const now = deps.now ?? (() => new Date());
  const sleep = deps.sleep ?? ((ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms)));
  const driver = registry.driver;
  const started = now();
  const cutoff = new Date(started.getTime() - options.delayMs);
  const listen = deps.listen ?? ((repo: Repository) => repo);
  const repository = (name: RepoName) => listen(registry.collectorRepository(name, cutoff));
  const markOptions = { deleteUntagged: options.deleteUntagged, cutoff };
  const report: GcReport = {
    dryRun: options.dryRun,
    blobsRemoved: 0,
    bytesFreed: 0,
    manifestsRemoved: 0,
    layerLinksRemoved: 0,
    repositoriesRemoved: 0,
    kept: { young: 0, reclaimedByPush: 0 },
    repositories: 0,
    blobsSeen: 0,
    durationMs: 0,
  };
  const prefix = options.dryRun ? 'gc (dry run): would remove' : 'gc: removed';

  // What an interrupted run held goes back first (not on a dry run: it changes nothing).
  if (!options.dryRun) await Quarantine.recover(driver, logger);

  // Mark.
  const reader = new ManifestReader(driver);
  const names = await registry.repositoryNames();
  report.repositories = names.length;
  const first = await markAll(driver, names, reader, markOptions);

  // Choose.
  const untagged: Array<{ name: RepoName; digest: Digest }> = [];
  const links: Array<{ name: RepoName; digest: Digest }> = [];
  const survivingLinks = new Set<Digest>();
  for (const [name, state] of first.states) {
    const marks = first.marks.get(name)!;
    for (const digest of state.revisions.keys()) if (!marks.kept.has(digest)) untagged.push({ name, digest });
    for (const [digest, at] of state.layers) {
      if (marks.referenced.has(digest)) survivingLinks.add(digest);
      else if (at >= cutoff) {
        survivingLinks.add(digest);
        report.kept.young++;
      } else links.push({ name, digest });
    }
  }
  const blobs = await listBlobs(driver);
  report.blobsSeen = blobs.size;
  const candidates: Array<{ digest: Digest; size: number }> = [];
  for (const [digest, info] of blobs) {
    if (first.referenced.has(digest) || survivingLinks.has(digest)) continue;
    if (info.modifiedAt >= cutoff) report.kept.young++;
    else candidates.push({ digest, size: info.size });
  }

  if (options.dryRun) {
    for (const m of untagged) logger.info({ repository: m.name, digest: m.digest }, `${prefix} untagged manifest`);
    for (const l of links) logger.info({ repository: l.name, digest: l.digest }, `${prefix} layer link`);
    for (const b of candidates) logger.info({ digest: b.digest, size: b.size }, `${prefix} blob`);
    report.manifestsRemoved = untagged.length;
    report.layerLinksRemoved = links.length;
    report.blobsRemoved = candidates.length;
    report.bytesFreed = candidates.reduce((n, b) => n + b.size, 0);
    for (const [name, state] of first.states) {
      const left = [...state.layers.keys()].some((d) => !links.some((l) => l.name === name && l.digest === d));
      const revisionsLeft = state.revisions.size > untagged.filter((m) => m.name === name).length;
      if (state.tags.size === 0 && !revisionsLeft && !left && (await uploadsSettled(driver, name, cutoff))) {
        report.repositoriesRemoved++;
        logger.info({ repository: name }, `${prefix} empty repository`);
      }
    }
    report.durationMs = now().getTime() - started.getTime();
    logger.info(report, 'gc (dry run) done');
    return report;
  }

  // Untagged manifests, each checked again right before (link not rewritten); the delete itself
  // announces itself, checks the age and the tags again, and again after it removed the revision
  // (ManifestStore.deleteUntagged).
  for (const { name, digest } of untagged) {
    const link = await statOptional(driver, layout.revisionLink(name, digest));
    if (!link || link.modifiedAt >= cutoff) {
      report.kept.reclaimedByPush++;
      continue;
    }
    try {
      if (await unlessGone(() => repository(name).manifests.delete(digest))) {
        report.manifestsRemoved++;
        logger.info({ repository: name, digest }, `${prefix} untagged manifest`);
      }
    } catch (err) {
      if (!(err instanceof ManifestKeptError)) throw err;
      report.kept.reclaimedByPush++;
      logger.info({ repository: name, digest }, 'gc: an untagged manifest chosen for removal was tagged or pushed again meanwhile; kept');
    }
  }

  // Mark again, from a fresh listing: what a push made since the first mark is seen now.
  const fresh = await markAll(driver, await registry.repositoryNames(), reader, markOptions);

  const removedLinks: Array<{ name: RepoName; digest: Digest }> = [];
  for (const { name, digest } of links) {
    if (fresh.marks.get(name)?.referenced.has(digest)) {
      report.kept.reclaimedByPush++;
      continue;
    }
    const link = await statOptional(driver, layout.layerLink(name, digest));
    if (!link) continue;
    if (link.modifiedAt >= cutoff) {
      report.kept.reclaimedByPush++; // linked again (an upload or mount of it) since it was chosen
      continue;
    }
    if (await removeLayerLink(driver, repository(name), digest)) {
      removedLinks.push({ name, digest });
      report.layerLinksRemoved++;
      logger.info({ repository: name, digest }, `${prefix} layer link`);
    }
  }

  const quarantine = new Quarantine(driver, logger);
  reader.heldBy(quarantine);
  try {
    for (const { digest, size } of candidates) {
      const data = await statOptional(driver, layout.blobData(digest));
      if (fresh.referenced.has(digest) || !data || data.modifiedAt >= cutoff) {
        if (data) report.kept.reclaimedByPush++;
        continue;
      }
      await quarantine.hold(digest, size);
    }
    // The last look, after the move and a settle time (a request that checked for a blob before
    // the move has written what it was writing by then): every repository listed and marked again;
    // a held blob that is linked or referenced now goes back.
    if (quarantine.digests().length > 0 || removedLinks.length > 0) await sleep(Math.min(Math.max(options.delayMs, 0), MAX_SETTLE_MS));
    const current = await registry.repositoryNames();
    const last = await markAll(driver, current, reader, markOptions);
    const linked = await linkedNow(driver, current);
    for (const digest of quarantine.digests()) {
      if (linked.has(digest) || last.referenced.has(digest)) {
        await quarantine.restore(digest);
        report.kept.reclaimedByPush++;
        logger.info({ digest }, 'gc: a blob chosen for removal was linked meanwhile; kept');
        continue;
      }
      const freed = await quarantine.drop(digest);
      if (freed === null) {
        report.kept.reclaimedByPush++;
        continue;
      }
      report.bytesFreed += freed;
      report.blobsRemoved++;
      logger.info({ digest }, `${prefix} blob`);
    }
    // A link removed above that a manifest pushed since references (its PUT checked the link before
    // it went) is put back: the manifest must be served whole. Its delete event has gone out.
    for (const { name, digest } of removedLinks) {
      if (!last.marks.get(name)?.referenced.has(digest) || !(await statOptional(driver, layout.blobData(digest)))) continue;
      await driver.putContent(layout.layerLink(name, digest), digest);
      report.layerLinksRemoved--;
      report.kept.reclaimedByPush++;
      logger.warn({ repository: name, digest }, 'gc: a manifest pushed during the collection references a layer link it removed; linked again');
    }
  } finally {
    await quarantine.close();
  }

  // Those listed at the start too: on S3 a repository whose last link went is no longer listed.
  for (const name of new Set([...names, ...(await registry.repositoryNames())])) {
    if (await removeEmptyRepository(driver, name, cutoff)) {
      report.repositoriesRemoved++;
      logger.info({ repository: name }, `${prefix} empty repository`);
    }
  }

  report.durationMs = now().getTime() - started.getTime();
  logger.info(report, 'gc done');
  return report;
}
