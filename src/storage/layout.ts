import { digestAlgorithm, digestHex, type Digest } from '../oci/digest.ts';
import type { RepoName, Tag } from '../oci/names.ts';

/**
 * Where everything lives inside a driver, in one place (Distribution's layout, simplified).
 * Only validated values (Digest, RepoName, Tag, upload ids) come in, so no path built here
 * can leave its directory.
 *
 *   blobs/<alg>/<hex[0:2]>/<hex>/data                          content, shared by all repositories
 *   repositories/<name>/_layers/<alg>/<hex>/link               blob visible in the repository
 *   repositories/<name>/_manifests/revisions/<alg>/<hex>/link  manifest in the repository
 *   repositories/<name>/_manifests/tags/<tag>/current/link     tag -> manifest digest
 *   repositories/<name>/_referrers/<alg>/<hex>/<alg>-<hex>     subject -> referrer descriptor
 *   repositories/<name>/_uploads/<id>/{data,state}             upload session in progress
 */
export const layout = {
  blobsRoot: 'blobs',
  blobData: (d: Digest) => `blobs/${digestAlgorithm(d)}/${digestHex(d).slice(0, 2)}/${digestHex(d)}/data`,
  blobDir: (d: Digest) => `blobs/${digestAlgorithm(d)}/${digestHex(d).slice(0, 2)}/${digestHex(d)}`,
  repositoriesRoot: 'repositories',
  repository: (name: RepoName) => `repositories/${name}`,
  layersDir: (name: RepoName) => `repositories/${name}/_layers`,
  layerLink: (name: RepoName, d: Digest) => `repositories/${name}/_layers/${digestAlgorithm(d)}/${digestHex(d)}/link`,
  layerDir: (name: RepoName, d: Digest) => `repositories/${name}/_layers/${digestAlgorithm(d)}/${digestHex(d)}`,
  manifestsDir: (name: RepoName) => `repositories/${name}/_manifests`,
  revisionLink: (name: RepoName, d: Digest) =>
    `repositories/${name}/_manifests/revisions/${digestAlgorithm(d)}/${digestHex(d)}/link`,
  revisionDir: (name: RepoName, d: Digest) =>
    `repositories/${name}/_manifests/revisions/${digestAlgorithm(d)}/${digestHex(d)}`,
  tagsDir: (name: RepoName) => `repositories/${name}/_manifests/tags`,
  tagLink: (name: RepoName, tag: Tag) => `repositories/${name}/_manifests/tags/${tag}/current/link`,
  tagDir: (name: RepoName, tag: Tag) => `repositories/${name}/_manifests/tags/${tag}`,
  referrersDir: (name: RepoName, subject: Digest) =>
    `repositories/${name}/_referrers/${digestAlgorithm(subject)}/${digestHex(subject)}`,
  referrerEntry: (name: RepoName, subject: Digest, referrer: Digest) =>
    `repositories/${name}/_referrers/${digestAlgorithm(subject)}/${digestHex(subject)}/${digestAlgorithm(referrer)}-${digestHex(referrer)}`,
  uploadsDir: (name: RepoName) => `repositories/${name}/_uploads`,
  uploadDir: (name: RepoName, id: UploadId) => `repositories/${name}/_uploads/${id}`,
  uploadData: (name: RepoName, id: UploadId) => `repositories/${name}/_uploads/${id}/data`,
  uploadState: (name: RepoName, id: UploadId) => `repositories/${name}/_uploads/${id}/state`,
} as const;

/** An upload session id (a v4 UUID), validated by `parseUploadId`. */
export type UploadId = string & { readonly __brand: 'UploadId' };

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

export function parseUploadId(value: string): UploadId | null {
  return UUID.test(value) ? (value as UploadId) : null;
}
