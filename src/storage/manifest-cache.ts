import type { Digest } from '../oci/digest.ts';
import type { RepoName } from '../oci/names.ts';
import type { RevisionLink } from './revision-link.ts';

export interface ManifestCacheOptions {
  /** Digests (and revision links) kept at most; the oldest go first. */
  maxEntries: number;
  /** Manifest bytes kept at most, in all. */
  maxBytes: number;
  /** A manifest larger than this is never kept (it would push many small ones out). */
  maxManifestBytes: number;
}

export const DEFAULT_MANIFEST_CACHE: ManifestCacheOptions = { maxEntries: 10_000, maxBytes: 16 * 1024 * 1024, maxManifestBytes: 256 * 1024 };

/**
 * What never changes for a manifest digest, kept in memory so that a HEAD or GET by tag reads
 * only the tag's link and checks that the revision and the bytes are still there: a digest's
 * bytes and media type, and what a repository's revision link says. Whether something exists is
 * never kept (another process, a replica on the same bucket or `dockyard gc`, may delete it), so
 * the cache is right in every configuration and needs no invalidation, the way Distribution's
 * blob descriptor cache keeps immutable descriptors.
 */
export class ManifestCache {
  private readonly manifests = new Map<Digest, { mediaType: string; bytes?: Buffer }>();
  private readonly links = new Map<string, RevisionLink>();
  private bytes = 0;

  constructor(private readonly options: ManifestCacheOptions = DEFAULT_MANIFEST_CACHE) {}

  mediaType(digest: Digest): string | undefined {
    return this.manifests.get(digest)?.mediaType;
  }

  content(digest: Digest): Buffer | undefined {
    return this.manifests.get(digest)?.bytes;
  }

  /** Records a digest's media type, and its bytes when they fit. */
  set(digest: Digest, mediaType: string, bytes?: Buffer): void {
    const known = this.manifests.get(digest);
    if (known?.bytes) return;
    const keep = bytes && bytes.length <= this.options.maxManifestBytes ? bytes : undefined;
    if (known) this.manifests.delete(digest);
    this.manifests.set(digest, keep ? { mediaType, bytes: keep } : { mediaType });
    this.bytes += keep?.length ?? 0;
    this.trim();
  }

  revisionLink(name: RepoName, digest: Digest): RevisionLink | undefined {
    return this.links.get(`${name}@${digest}`);
  }

  setRevisionLink(name: RepoName, digest: Digest, link: RevisionLink): void {
    if (this.links.size >= this.options.maxEntries) {
      const oldest = this.links.keys().next().value;
      if (oldest !== undefined) this.links.delete(oldest);
    }
    this.links.set(`${name}@${digest}`, link);
  }

  private trim(): void {
    while (this.manifests.size > this.options.maxEntries || this.bytes > this.options.maxBytes) {
      const oldest = this.manifests.entries().next().value;
      if (!oldest) return;
      this.manifests.delete(oldest[0]);
      this.bytes -= oldest[1].bytes?.length ?? 0;
    }
  }
}
