import { Readable } from 'node:stream';
import type { Digest } from '../oci/digest.ts';
import { isRegistryError, type ErrorCode } from '../oci/errors.ts';
import type { Repository } from '../storage/repository.ts';
import { ArchiveError } from './archive-error.ts';
import { topManifest, type PlannedBlob, type PlannedManifest, type PushPlan } from './push-plan.ts';
import { readEntries } from './tar-entries.ts';

export interface ImportResult {
  format: PushPlan['format'];
  tag: string;
  digest: Digest;
  mediaType: string;
  /** Blobs uploaded now, and their bytes. */
  blobsPushed: number;
  bytesPushed: number;
  /** Blobs the repository held already (not uploaded again, as a client skips them after a HEAD). */
  blobsPresent: number;
  manifestsPushed: number;
}

/** Store errors that mean the archive's bytes are wrong, not that the registry failed. */
const ARCHIVE_FAULTS: readonly ErrorCode[] = ['DIGEST_INVALID', 'SIZE_INVALID', 'MANIFEST_INVALID', 'MANIFEST_BLOB_UNKNOWN', 'BLOB_UPLOAD_INVALID'];

/**
 * Pushes a checked plan through `repo`, the request's notifier-decorated repository, with the
 * calls a client's push makes (upload start and complete, manifest put): the same code path,
 * the same verification, the same events. Blobs first, each streamed from the archive and its
 * digest verified by the upload store as it is written; then the manifests, children first, so
 * no manifest or tag is written before every blob it names is stored. A failure part-way leaves
 * the blobs already stored as unreferenced blobs (the garbage collector's), never a manifest.
 */
export async function pushPlan(file: string, plan: PushPlan, repo: Repository): Promise<ImportResult> {
  const result = { blobsPushed: 0, bytesPushed: 0, blobsPresent: 0, manifestsPushed: 0 };
  const fromArchive = new Map<string, PlannedBlob>();
  for (const blob of plan.blobs) {
    if (await hasBlob(repo, blob.digest)) {
      result.blobsPresent++;
    } else if (blob.source.data) {
      await pushBlob(repo, blob, Readable.from([blob.source.data]), 'the image config');
      result.blobsPushed++;
      result.bytesPushed += blob.size;
    } else {
      fromArchive.set(blob.source.entry, blob);
    }
  }
  if (fromArchive.size > 0) {
    await readEntries(file, async (entry, body) => {
      const blob = entry.kind === 'file' ? fromArchive.get(entry.name) : undefined;
      if (!blob) return;
      fromArchive.delete(entry.name);
      await pushBlob(repo, blob, body, entry.name);
      result.blobsPushed++;
      result.bytesPushed += blob.size;
    });
  }
  const [left] = fromArchive.values();
  if (left) throw new ArchiveError(`blob ${left.digest} was not found in the archive on the second reading`, { digest: left.digest });

  const top = topManifest(plan);
  for (const manifest of plan.manifests) {
    // A child already there is left as it is (a client's HEAD would find it); the tagged one is always put.
    if (manifest !== top && (await hasManifest(repo, manifest.digest))) continue;
    await putManifest(repo, manifest);
    result.manifestsPushed++;
  }
  return { format: plan.format, tag: plan.tag, digest: top.digest, mediaType: top.mediaType, ...result };
}

async function pushBlob(repo: Repository, blob: PlannedBlob, body: Readable, where: string): Promise<void> {
  const upload = await repo.uploads.start();
  try {
    await repo.uploads.complete(upload.id, blob.digest, body, { length: blob.size });
  } catch (err) {
    await repo.uploads.cancel(upload.id).catch(() => undefined);
    throw archiveFault(err, `${where} (blob ${blob.digest})`, { digest: blob.digest, entry: where });
  }
}

async function putManifest(repo: Repository, manifest: PlannedManifest): Promise<void> {
  try {
    await repo.manifests.put(manifest.reference, manifest.content, manifest.mediaType);
  } catch (err) {
    throw archiveFault(err, `manifest ${manifest.digest}`, { digest: manifest.digest });
  }
}

async function hasBlob(repo: Repository, digest: Digest): Promise<boolean> {
  return repo.blobs.stat(digest).then(() => true, (err: unknown) => unknownOr(err, 'BLOB_UNKNOWN'));
}

async function hasManifest(repo: Repository, digest: Digest): Promise<boolean> {
  return repo.manifests.stat({ digest }).then(() => true, (err: unknown) => unknownOr(err, 'MANIFEST_UNKNOWN'));
}

/** False for "not there"; any other error (storage down) is thrown on. */
function unknownOr(err: unknown, code: ErrorCode): false {
  if (isRegistryError(err) && err.code === code) return false;
  throw err;
}

function archiveFault(err: unknown, what: string, detail: Record<string, unknown>): unknown {
  if (!isRegistryError(err) || !ARCHIVE_FAULTS.includes(err.code)) return err;
  const extra = typeof err.detail === 'object' && err.detail !== null ? (err.detail as Record<string, unknown>) : {};
  return new ArchiveError(`${what}: ${err.message}`, { ...detail, code: err.code, ...extra });
}
