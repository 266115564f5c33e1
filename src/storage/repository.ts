import type { Readable } from 'node:stream';
import type { Descriptor } from '../oci/descriptor.ts';
import type { Digest } from '../oci/digest.ts';
import type { RepoName, Tag } from '../oci/names.ts';
import type { UploadId } from './layout.ts';

/**
 * The registry's services, per repository, as the API uses them. Every method either completes
 * its operation or throws a RegistryError; the notifications listener decorates these
 * interfaces and reports only operations that returned.
 */
export interface Repository {
  readonly name: RepoName;
  readonly blobs: BlobService;
  readonly uploads: UploadService;
  readonly manifests: ManifestService;
  readonly tags: TagService;
  readonly referrers: ReferrerService;
}

export interface BlobInfo {
  digest: Digest;
  size: number;
  mediaType: string;
}

/** Inclusive byte range. */
export interface ByteRange {
  start: number;
  end: number;
}

/** Picks the range to read once the blob's size is known (null: all of it); may throw (416). */
export type RangeChoice = (size: number) => ByteRange | null;

export interface BlobService {
  /** Existence check (HEAD). Throws BLOB_UNKNOWN. */
  stat(digest: Digest): Promise<BlobInfo>;
  /** Opens the blob for reading (GET), all of it or the range `choose` picks from its size. */
  open(digest: Digest, choose?: RangeChoice): Promise<{ info: BlobInfo; stream: Readable; range: ByteRange | null }>;
  /**
   * Where a client can fetch the blob directly (a presigned URL), when the storage offers one;
   * null: serve it through `open`. Throws BLOB_UNKNOWN.
   */
  locate(digest: Digest): Promise<{ info: BlobInfo; url: string } | null>;
  /** Unlinks the blob from this repository. Throws BLOB_UNKNOWN. */
  delete(digest: Digest): Promise<BlobInfo>;
  /**
   * Links a blob this registry already holds into this repository: from `from` when given,
   * else from anywhere (automatic content discovery). Null when it cannot be mounted.
   */
  mount(digest: Digest, from: RepoName | null): Promise<BlobInfo | null>;
}

export interface UploadStatus {
  id: UploadId;
  /** Bytes received so far. */
  offset: number;
  startedAt: Date;
}

export interface ChunkOptions {
  /** Where the chunk claims to start (from Content-Range); checked against the offset. */
  start?: number;
  /** How many bytes the chunk claims to hold (Content-Length or the range's length). */
  length?: number;
}

export interface UploadService {
  start(): Promise<UploadStatus>;
  /** Throws BLOB_UPLOAD_UNKNOWN. */
  status(id: UploadId): Promise<UploadStatus>;
  /** Appends a chunk; all or nothing. Throws 416 BLOB_UPLOAD_INVALID on a chunk out of order. */
  append(id: UploadId, body: Readable, chunk: ChunkOptions): Promise<UploadStatus>;
  /** Appends the optional last chunk, verifies the digest and publishes the blob (push). */
  complete(id: UploadId, digest: Digest, body: Readable | null, chunk: ChunkOptions): Promise<BlobInfo>;
  cancel(id: UploadId): Promise<void>;
}

export type ManifestReference = { tag: Tag; digest?: undefined } | { digest: Digest; tag?: undefined };

export interface ManifestInfo {
  digest: Digest;
  mediaType: string;
  size: number;
}

export interface StoredManifest extends ManifestInfo {
  content: Buffer;
}

export interface ManifestPutResult extends ManifestInfo {
  tag?: Tag;
  references: Descriptor[];
  subject?: Descriptor;
}

/**
 * The manifest media types a reader can use. A manifest of any other type is MANIFEST_UNKNOWN
 * for that reader (Distribution does the same, so old clients are not handed a format they
 * cannot read). Absent: any type.
 */
export type AcceptedTypes = readonly string[] | undefined;

export interface ManifestService {
  put(reference: ManifestReference, content: Buffer, contentType: string | undefined): Promise<ManifestPutResult>;
  /** Pull. Throws MANIFEST_UNKNOWN. */
  get(reference: ManifestReference, accept?: AcceptedTypes): Promise<StoredManifest>;
  /** Existence check (HEAD). Throws MANIFEST_UNKNOWN. */
  stat(reference: ManifestReference, accept?: AcceptedTypes): Promise<ManifestInfo>;
  /** Deletes the manifest and every tag that pointed at it. Throws MANIFEST_UNKNOWN. */
  delete(digest: Digest): Promise<{ info: ManifestInfo; tags: Tag[] }>;
}

export interface TagService {
  /** All tags, sorted. Throws NAME_UNKNOWN when the repository does not exist. */
  list(): Promise<Tag[]>;
  /** Removes the tag only. Throws MANIFEST_UNKNOWN. Returns the digest it pointed at. */
  delete(tag: Tag): Promise<Digest>;
  /** The tags whose link names `digest`, sorted; [] for a repository that does not exist. */
  pointingAt(digest: Digest): Promise<Tag[]>;
}

export interface ReferrerService {
  /** Descriptors of the manifests whose `subject` is `subject`. */
  list(subject: Digest, artifactType?: string): Promise<Descriptor[]>;
}

/** The registry as a whole: repositories and the catalog. */
export interface Registry {
  repository(name: RepoName): Repository;
  /** Repository names in lexical order, after `last`, at most `n`. */
  catalog(n: number, last?: string): Promise<{ names: RepoName[]; more: boolean }>;
}
