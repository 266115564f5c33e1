/**
 * The named crash points of the storage write paths (see `src/failpoint.ts`): with
 * `DOCKYARD_FAILPOINTS=<name>` the process dies with SIGKILL exactly at that step, so a test can
 * prove what a crash there leaves behind. `<name>@N` dies at the N-th hit instead.
 *
 * Filesystem driver, on every putContent / move / delete (use `@N` to pick one of an operation's):
 *   storage.fs.file.written      temp file complete in _tmp (its fsync under way), before it is published
 *   storage.fs.subtree.staged    the missing directories built in _tmp around the file, before the rename
 *   storage.fs.renamed           the file or subtree renamed into place, before its directory is fsynced
 *   storage.fs.delete.renamed    a deleted path renamed into _tmp (gone for readers), before it is removed
 *
 * Blob push (upload completion):
 *   storage.blob.written         upload data complete and its digest verified, before the intent is recorded
 *   storage.upload.completing    the session's state names the digest being published, before the publish
 *   storage.blob.published       the bytes are the blob (blobs/.../data), before the repository's layer link
 *   storage.blob.linked          the layer link is in place, before the upload session is closed
 *   storage.upload.closed        the session is closed (data gone, state says completed), before the answer
 * Upload completion on shared storage (S3; src/storage/verified-publish.ts):
 *   storage.publish.staged       the upload data moved to a key of this completion's own, before it is re-hashed
 *   storage.publish.verified     the staged bytes re-hashed and found to be the blob, before they are published
 * Mount and blob delete:
 *   storage.blob.mounted         the layer link of a mounted blob is in place
 *   storage.blob.unlinked        a blob delete removed the repository's layer link
 * Manifest push:
 *   storage.manifest.written     the manifest bytes are stored, before the revision link
 *   storage.revision.linked      the revision link is in place, before the referrer entry and the tag
 *   storage.referrer.added       the referrer entry of a manifest with a subject is in place
 *   storage.tag.written          the tag link is in place, before the caller is answered
 * Manifest delete and tag delete:
 *   storage.manifest.untagged    one tag of the manifest being deleted is removed (`@N`: the N-th)
 *   storage.referrer.removed     the manifest's referrer entry is removed
 *   storage.manifest.deleted     the revision is removed, before the caller is answered
 *   storage.tag.removed          a tag delete removed the tag, before the caller is answered
 *
 * Garbage collection (src/storage/gc; the collector is `dockyard gc` or the scheduled run):
 *   gc.manifest.deleted          an untagged manifest's revision link removed, before its tags are looked at again
 *   gc.link.removed              an unreferenced layer link removed (its delete event queued)
 *   gc.blob.held                 an unreferenced blob's data moved aside into _gc/<run>, before the settle time
 *   gc.blob.restored             a held blob found linked at the last look and put back
 *   gc.blob.dropped              a held blob deleted for good
 *   gc.blob.reclaimed            a write path (manifest push, mount, upload completion) took a blob it links back from _gc
 *
 * Layout migration at start (src/storage/layout-migration.ts; `@N`: the N-th of its kind):
 *   storage.migration.link.rewritten  one JSON revision link rewritten into the digest alone
 *   storage.migration.renamed         one top-level directory (blobs, then repositories) renamed under the prefix
 */
export const Failpoints = {
  fileWritten: 'storage.fs.file.written',
  subtreeStaged: 'storage.fs.subtree.staged',
  renamed: 'storage.fs.renamed',
  deleteRenamed: 'storage.fs.delete.renamed',
  blobWritten: 'storage.blob.written',
  uploadCompleting: 'storage.upload.completing',
  blobPublished: 'storage.blob.published',
  blobLinked: 'storage.blob.linked',
  uploadClosed: 'storage.upload.closed',
  publishStaged: 'storage.publish.staged',
  publishVerified: 'storage.publish.verified',
  blobMounted: 'storage.blob.mounted',
  blobUnlinked: 'storage.blob.unlinked',
  manifestWritten: 'storage.manifest.written',
  revisionLinked: 'storage.revision.linked',
  referrerAdded: 'storage.referrer.added',
  tagWritten: 'storage.tag.written',
  manifestUntagged: 'storage.manifest.untagged',
  referrerRemoved: 'storage.referrer.removed',
  manifestDeleted: 'storage.manifest.deleted',
  tagRemoved: 'storage.tag.removed',
  gcManifestDeleted: 'gc.manifest.deleted',
  gcLinkRemoved: 'gc.link.removed',
  gcBlobHeld: 'gc.blob.held',
  gcBlobRestored: 'gc.blob.restored',
  gcBlobDropped: 'gc.blob.dropped',
  gcBlobReclaimed: 'gc.blob.reclaimed',
  migrationLinkRewritten: 'storage.migration.link.rewritten',
  migrationRenamed: 'storage.migration.renamed',
} as const;

export type FailpointName = (typeof Failpoints)[keyof typeof Failpoints];
