import { RegistryError } from '../oci/errors.ts';
import { digestAlgorithm, digestOf, type Digest } from '../oci/digest.ts';
import type { Descriptor } from '../oci/descriptor.ts';
import { parseManifest, type ParsedManifest } from '../oci/manifest.ts';
import type { RepoName, Tag } from '../oci/names.ts';
import { failpoint } from '../failpoint.ts';
import { exists, readOptional, type ContentStore } from './content-store.ts';
import { isNotFound, type StorageDriver } from './driver.ts';
import { Failpoints } from './failpoints.ts';
import { reclaimBlob } from './gc/reclaim.ts';
import { ManifestKeptError, untaggingMarker, untaggingSettled } from './gc/untagging.ts';
import type { KeyedMutex } from './keyed-mutex.ts';
import { layout } from './layout.ts';
import { ManifestCache } from './manifest-cache.ts';
import { mediaTypeOfContent } from './manifest-media-type.ts';
import { referrerDescriptor } from './referrer-index.ts';
import { parseRevisionLink, subjectOf, type RevisionLink } from './revision-link.ts';
import type { ReferrerStore } from './referrer-store.ts';
import type { TagStore } from './tag-store.ts';
import type {
  AcceptedTypes,
  ManifestInfo,
  ManifestPutResult,
  ManifestReference,
  ManifestService,
  StoredManifest,
} from './repository.ts';

/**
 * Manifests of one repository. The bytes go to the content store (served back exactly as
 * pushed); a revision link makes them part of the repository; a tag link names them.
 */
export class ManifestStore implements ManifestService {
  constructor(
    private readonly name: RepoName,
    private readonly driver: StorageDriver,
    private readonly content: ContentStore,
    private readonly tags: TagStore,
    private readonly referrers: ReferrerStore,
    /**
     * A push and a delete of one manifest run one at a time, or the delete can miss the tag being
     * written. Taken before any tag lock (TagStore's), never inside one.
     */
    private readonly manifestLocks: KeyedMutex,
    /** Shared by every ManifestStore of the registry. */
    private readonly cache: ManifestCache = new ManifestCache(),
  ) {}

  private locked<T>(digest: Digest, task: () => Promise<T>): Promise<T> {
    return this.manifestLocks.run(`${this.name}@${digest}`, task);
  }

  async put(reference: ManifestReference, body: Buffer, contentType: string | undefined): Promise<ManifestPutResult> {
    const parsed = parseManifest(body, contentType);
    const alg = reference.digest ? digestAlgorithm(reference.digest) : 'sha256';
    const digest = digestOf(body, alg);
    if (reference.digest && reference.digest !== digest) {
      throw new RegistryError('DIGEST_INVALID', `manifest has digest ${digest}, not ${reference.digest}`, {
        detail: { expected: reference.digest, actual: digest },
      });
    }
    // Distribution keeps no media type beside a manifest: it is read back from the bytes, so
    // the bytes must say what the push said (Distribution refuses such a push as well).
    if (mediaTypeOfContent(body) !== parsed.mediaType) {
      throw new RegistryError('MANIFEST_INVALID', `manifest of type ${parsed.mediaType} must declare it in its mediaType field`, {
        detail: { mediaType: parsed.mediaType },
      });
    }
    await this.checkReferences(parsed);

    // Order matters: bytes, then revision, then referrer entry, then tag. Each step is atomic,
    // and a reader finds the manifest only once everything it depends on is in place.
    await this.content.putContent(digest, body);
    failpoint(Failpoints.manifestWritten);
    await this.locked(digest, async () => {
      const revision = layout.revisionLink(this.name, digest);
      const linkedBefore = await exists(this.driver, revision);
      // The digest alone, as Distribution writes every link.
      await this.driver.putContent(revision, digest);
      this.cache.set(digest, parsed.mediaType, body);
      failpoint(Failpoints.revisionLinked);
      // Checked again now the revision is written (a collector may have taken what was checked
      // above): the collector's last look sees the revision, or this check sees its move.
      const lost = await this.lostReference(digest, body, parsed);
      if (lost) {
        if (!linkedBefore) await this.unlinkRevision(digest);
        throw lost;
      }
      if (parsed.subject) {
        await this.referrers.add(parsed.subject.digest, referrerDescriptor(digest, body.length, parsed));
        failpoint(Failpoints.referrerAdded);
      }
      await this.referrers.manifestAdded();
      if (reference.tag) {
        await this.tags.set(reference.tag, digest);
        failpoint(Failpoints.tagWritten);
      }
      // A collector in another process deleting this manifest as untagged (deleteUntagged) may
      // remove the revision after our write: once it is done, written again, and checked again.
      await untaggingSettled(this.driver, this.name, digest);
      if (!(await exists(this.driver, revision))) {
        await this.driver.putContent(revision, digest);
        const lostAgain = await this.lostReference(digest, body, parsed);
        if (lostAgain) {
          if (reference.tag) await this.tags.remove(reference.tag, digest);
          await this.unlinkRevision(digest);
          throw lostAgain;
        }
        if (parsed.subject) await this.referrers.add(parsed.subject.digest, referrerDescriptor(digest, body.length, parsed));
      }
    });

    const result: ManifestPutResult = {
      digest,
      mediaType: parsed.mediaType,
      size: body.length,
      references: parsed.references,
    };
    if (reference.tag) result.tag = reference.tag;
    if (parsed.subject) result.subject = parsed.subject;
    return result;
  }

  async get(reference: ManifestReference, accept?: AcceptedTypes): Promise<StoredManifest> {
    const info = await this.stat(reference, accept);
    // stat has just found the bytes there; what a digest names never changes.
    const content = this.cache.content(info.digest) ?? (await this.content.getContent(info.digest));
    this.cache.set(info.digest, info.mediaType, content);
    return { ...info, content };
  }

  async stat(reference: ManifestReference, accept?: AcceptedTypes): Promise<ManifestInfo> {
    const digest = reference.digest ?? (await this.tags.resolve(reference.tag));
    const link = await this.revision(digest);
    const size = link ? await this.content.size(digest) : null;
    const mediaType = link && size !== null ? await this.mediaTypeOf(digest, link) : null;
    if (!link || size === null || mediaType === null) throw unknownManifest(reference);
    if (accept && !accept.includes(mediaType)) {
      throw new RegistryError(
        'MANIFEST_UNKNOWN',
        `manifest ${digest} is of type ${mediaType}, which the client does not accept`,
        { detail: { mediaType, accept: accept.slice(0, 10) } },
      );
    }
    return { digest, mediaType, size };
  }

  delete(digest: Digest): Promise<{ info: ManifestInfo; tags: Tag[] }> {
    return this.locked(digest, () => this.deleteLocked(digest));
  }

  private async deleteLocked(digest: Digest): Promise<{ info: ManifestInfo; tags: Tag[] }> {
    const info = await this.stat({ digest });
    // Tags first, the revision last: a crash part-way leaves a manifest that is still readable
    // (with fewer tags), and a retry of the delete finishes the job.
    // remove(tag, digest) checks and deletes under the tag's lock: a push of another manifest
    // to the tag (under that manifest's lock, not this one) either moved it before, and the tag
    // stays, or comes after and re-creates it.
    const tags: Tag[] = [];
    for (const tag of await this.tags.pointingAt(digest)) {
      if (await this.tags.remove(tag, digest)) tags.push(tag);
      failpoint(Failpoints.manifestUntagged);
    }
    const body = await this.content.getContent(digest);
    const subject = subjectOf(body);
    if (subject) {
      await this.referrers.remove(subject, digest);
      failpoint(Failpoints.referrerRemoved);
    }
    try {
      await this.driver.delete(layout.revisionDir(this.name, digest));
    } catch (err) {
      // Gone meanwhile (a concurrent delete of it): the outcome asked for holds, and the tags
      // this call removed are reported by it.
      if (!isNotFound(err)) throw err;
    }
    failpoint(Failpoints.manifestDeleted);
    return { info, tags };
  }

  /**
   * The collector's delete of a manifest no tag reaches (`--delete-untagged`): the revision only,
   * never a tag, and only while its link is older than `cutoff`. Announced first (untagging.ts), so
   * that a push of it from any process either shows in the link's age or waits and writes the
   * revision again. A tag pushed meanwhile is found by the look after the delete (a push writes its
   * tag, then checks its revision) and the revision is put back. Kept: ManifestKeptError.
   */
  deleteUntagged(digest: Digest, cutoff: Date): Promise<{ info: ManifestInfo; tags: Tag[] }> {
    return this.locked(digest, async () => {
      const info = await this.stat({ digest });
      const marker = untaggingMarker(this.name, digest);
      await this.driver.putContent(marker, '');
      try {
        const link = await this.driver.stat(layout.revisionLink(this.name, digest)).catch((err: unknown) => {
          if (isNotFound(err)) return null;
          throw err;
        });
        if (!link || link.modifiedAt >= cutoff) throw new ManifestKeptError(digest, 'pushed again');
        if ((await this.tags.pointingAt(digest)).length > 0) throw new ManifestKeptError(digest, 'tagged');
        await this.unlinkRevision(digest); // the announcement goes with it
        failpoint(Failpoints.gcManifestDeleted);
        if ((await this.tags.pointingAt(digest)).length > 0) {
          await this.driver.putContent(layout.revisionLink(this.name, digest), digest);
          throw new ManifestKeptError(digest, 'tagged');
        }
        // After the revision (an entry a crash left is not listed: ReferrerStore.list reads the
        // revision), before the announcement goes (a push waiting for it adds the entry back).
        const subject = subjectOf(await this.content.getContent(digest).catch(() => Buffer.alloc(0)));
        if (subject) await this.referrers.remove(subject, digest);
      } finally {
        await this.driver.delete(marker).catch((err: unknown) => {
          if (!isNotFound(err)) throw err;
        });
      }
      return { info, tags: [] };
    });
  }

  private async unlinkRevision(digest: Digest): Promise<void> {
    try {
      await this.driver.delete(layout.revisionDir(this.name, digest));
    } catch (err) {
      if (!isNotFound(err)) throw err;
    }
  }

  /**
   * After a push wrote its revision: the first reference that is no longer here (its data dropped
   * by a collector, a child's revision deleted), as the error to refuse the push with; null when
   * all are there. Blobs a collector held are taken back (reclaimBlob); a layer link it removed is
   * written again (as its own last look would: the link's delete event has gone out); the
   * manifest's own bytes, if it took them, are written again.
   */
  private async lostReference(digest: Digest, body: Buffer, parsed: ParsedManifest): Promise<RegistryError | null> {
    if (!(await reclaimBlob(this.driver, digest))) await this.driver.putContent(layout.blobData(digest), body);
    for (const blob of parsed.blobs) {
      if (!(await reclaimBlob(this.driver, blob.digest))) return missing(blob, 'blob');
      if (!(await this.content.isLinked(this.name, blob.digest))) await this.content.link(this.name, blob.digest);
    }
    for (const child of parsed.manifests) {
      if (!(await this.revision(child.digest)) || !(await reclaimBlob(this.driver, child.digest))) return missing(child, 'manifest');
    }
    return null;
  }

  /** The revision link of a manifest in this repository, or null when it is not here. */
  private async revision(digest: Digest): Promise<RevisionLink | null> {
    const path = layout.revisionLink(this.name, digest);
    const known = this.cache.revisionLink(this.name, digest);
    if (known) return (await exists(this.driver, path)) ? known : null; // a stat costs less than a read
    const raw = await readOptional(this.driver, path);
    if (!raw) return null;
    const link = parseRevisionLink(raw);
    this.cache.setRevisionLink(this.name, digest, link);
    return link;
  }

  /** Null when the stored bytes are not a manifest we can name (then it is not served). */
  private async mediaTypeOf(digest: Digest, link: RevisionLink): Promise<string | null> {
    if (link.mediaType !== undefined) return link.mediaType;
    const cached = this.cache.mediaType(digest);
    if (cached !== undefined) return cached;
    const body = await readOptional(this.driver, layout.blobData(digest));
    const mediaType = body ? mediaTypeOfContent(body) : null;
    if (body && mediaType !== null) this.cache.set(digest, mediaType, body);
    return mediaType;
  }

  private async checkReferences(parsed: ParsedManifest): Promise<void> {
    for (const blob of parsed.blobs) {
      if (!(await this.content.isLinked(this.name, blob.digest))) throw missing(blob, 'blob');
    }
    for (const child of parsed.manifests) {
      if (!(await this.revision(child.digest))) throw missing(child, 'manifest');
    }
  }
}

function missing(d: Descriptor, kind: 'blob' | 'manifest'): RegistryError {
  return new RegistryError('MANIFEST_BLOB_UNKNOWN', `manifest references ${kind} ${d.digest}, which is not in this repository`, {
    detail: { digest: d.digest, mediaType: d.mediaType },
  });
}

export function unknownManifest(reference: ManifestReference): RegistryError {
  const which = reference.tag ?? reference.digest;
  return new RegistryError('MANIFEST_UNKNOWN', `manifest ${which} is unknown to this repository`, {
    detail: reference.tag ? { tag: reference.tag } : { digest: reference.digest },
  });
}
