import type { Repository } from '../storage/repository.ts';

/**
 * A repository whose changes start only once the outbox has just taken a write: each change
 * (upload completion, manifest put and delete, tag delete, blob delete and mount) first waits
 * for `probe`, a small commit that rides the next group commit. An outbox that cannot be
 * written (immutable, full, its writer down) then refuses the request before the store changes,
 * with the outbox's own error (a 503), instead of after it, which would leave a tag or blob
 * that no event describes. The window left is a fault that starts between the probe and the
 * event's commit, a millisecond or so apart.
 */
export function gateChanges(repo: Repository, probe: () => Promise<void>): Repository {
  const gated =
    <A extends unknown[], R>(change: (...args: A) => Promise<R>) =>
    async (...args: A): Promise<R> => {
      await probe();
      return change(...args);
    };
  const { blobs, uploads, manifests, tags } = repo;
  return {
    name: repo.name,
    referrers: repo.referrers,
    blobs: { stat: (d) => blobs.stat(d), open: (d, c) => blobs.open(d, c), delete: gated((d) => blobs.delete(d)), mount: gated((d, f) => blobs.mount(d, f)) },
    uploads: {
      start: () => uploads.start(),
      status: (id) => uploads.status(id),
      append: (id, body, chunk) => uploads.append(id, body, chunk),
      cancel: (id) => uploads.cancel(id),
      complete: gated((id, digest, body, chunk) => uploads.complete(id, digest, body, chunk)),
    },
    manifests: {
      put: gated((reference, content, contentType) => manifests.put(reference, content, contentType)),
      get: (reference, accept) => manifests.get(reference, accept),
      stat: (reference, accept) => manifests.stat(reference, accept),
      delete: gated((digest) => manifests.delete(digest)),
    },
    tags: { list: () => tags.list(), delete: gated((tag) => tags.delete(tag)) },
  };
}
