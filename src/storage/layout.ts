import { digestAlgorithm, digestHex, type Digest } from '../oci/digest.ts';
import type { RepoName, Tag } from '../oci/names.ts';

/**
 * Where everything lives inside a driver, in one place: CNCF Distribution's layout
 * (registry/storage/paths.go) exactly, so that a root or bucket Distribution wrote is served
 * unchanged, and Distribution serves what we write. Only validated values (Digest, RepoName,
 * Tag, upload ids) come in, so no path built here can leave its directory.
 *
 *   docker/registry/v2/
 *     blobs/<alg>/<hex[0:2]>/<hex>/data                              content, shared by all repositories
 *     repositories/<name>/
 *       _layers/<alg>/<hex>/link                                     blob visible in the repository
 *       _manifests/revisions/<alg>/<hex>/link                        manifest in the repository
 *       _manifests/revisions/<alg>/<hex>/gc-deleting                 ours: a collector deleting it as untagged (gc/untagging.ts)
 *       _manifests/tags/<tag>/current/link                           tag -> manifest digest
 *       _manifests/tags/<tag>/index/<alg>/<hex>/link                 every manifest the tag pointed at
 *       _uploads/<id>/{data,startedat}                               upload session (Distribution's files)
 *       _uploads/<id>/state                                          ours: completion state (Distribution ignores it)
 *       _referrers/<alg>/<hex>/<alg>-<hex>                           ours: subject -> referrer descriptor
 *       _referrers/_complete                                         ours: the index holds every revision
 *
 * Every link holds the digest string alone, no newline (Distribution parses it strictly).
 * Distribution's catalog and upload purger skip every `_`-prefixed directory they do not know,
 * so `_referrers` is invisible to it; its purger deletes a whole `_uploads/<id>` directory.
 */
export const STORAGE_PREFIX = 'docker/registry/v2';
const repos = `${STORAGE_PREFIX}/repositories`;

const digestPath = (d: Digest) => `${digestAlgorithm(d)}/${digestHex(d)}`;

export const layout = {
  blobsRoot: `${STORAGE_PREFIX}/blobs`,
  blobData: (d: Digest) => `${layout.blobDir(d)}/data`,
  blobDir: (d: Digest) => `${STORAGE_PREFIX}/blobs/${digestAlgorithm(d)}/${digestHex(d).slice(0, 2)}/${digestHex(d)}`,
  repositoriesRoot: repos,
  repository: (name: RepoName) => `${repos}/${name}`,
  layersDir: (name: RepoName) => `${repos}/${name}/_layers`,
  layerLink: (name: RepoName, d: Digest) => `${repos}/${name}/_layers/${digestPath(d)}/link`,
  layerDir: (name: RepoName, d: Digest) => `${repos}/${name}/_layers/${digestPath(d)}`,
  manifestsDir: (name: RepoName) => `${repos}/${name}/_manifests`,
  /** Holds one directory per digest algorithm, each one directory per revision (its hex). */
  revisionsDir: (name: RepoName) => `${repos}/${name}/_manifests/revisions`,
  revisionLink: (name: RepoName, d: Digest) => `${repos}/${name}/_manifests/revisions/${digestPath(d)}/link`,
  revisionDir: (name: RepoName, d: Digest) => `${repos}/${name}/_manifests/revisions/${digestPath(d)}`,
  revisionDeleting: (name: RepoName, d: Digest) => `${repos}/${name}/_manifests/revisions/${digestPath(d)}/gc-deleting`,
  tagsDir: (name: RepoName) => `${repos}/${name}/_manifests/tags`,
  tagLink: (name: RepoName, tag: Tag) => `${repos}/${name}/_manifests/tags/${tag}/current/link`,
  tagIndexLink: (name: RepoName, tag: Tag, d: Digest) =>
    `${repos}/${name}/_manifests/tags/${tag}/index/${digestPath(d)}/link`,
  tagDir: (name: RepoName, tag: Tag) => `${repos}/${name}/_manifests/tags/${tag}`,
  referrersRoot: (name: RepoName) => `${repos}/${name}/_referrers`,
  referrersDir: (name: RepoName, subject: Digest) => `${repos}/${name}/_referrers/${digestPath(subject)}`,
  referrerEntry: (name: RepoName, subject: Digest, referrer: Digest) =>
    `${repos}/${name}/_referrers/${digestPath(subject)}/${digestAlgorithm(referrer)}-${digestHex(referrer)}`,
  /** Present once the referrers index was built from every revision (see ReferrerIndex). */
  referrersComplete: (name: RepoName) => `${repos}/${name}/_referrers/_complete`,
  uploadsDir: (name: RepoName) => `${repos}/${name}/_uploads`,
  uploadDir: (name: RepoName, id: UploadId) => `${repos}/${name}/_uploads/${id}`,
  uploadData: (name: RepoName, id: UploadId) => `${repos}/${name}/_uploads/${id}/data`,
  /** RFC 3339 start time, as Distribution writes it; its purger reads nothing else. */
  uploadStartedAt: (name: RepoName, id: UploadId) => `${repos}/${name}/_uploads/${id}/startedat`,
  uploadState: (name: RepoName, id: UploadId) => `${repos}/${name}/_uploads/${id}/state`,
} as const;

/** The top-level directories of Dockyard's layout before it took Distribution's prefix. */
export const legacyLayout = { blobsRoot: 'blobs', repositoriesRoot: 'repositories' } as const;

/** An upload session id (a v4 UUID), validated by `parseUploadId`. */
export type UploadId = string & { readonly __brand: 'UploadId' };

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

export function parseUploadId(value: string): UploadId | null {
  return UUID.test(value) ? (value as UploadId) : null;
}
