import type { Readable } from 'node:stream';
import { digestOf, type Digest } from '../oci/digest.ts';
import { parseManifest } from '../oci/manifest.ts';
import type { RepoName, Tag } from '../oci/names.ts';
import type { RequestContext } from '../oci/request-context.ts';
import type {
  AcceptedTypes,
  BlobInfo,
  BlobService,
  RangeChoice,
  ChunkOptions,
  ManifestInfo,
  ManifestReference,
  ManifestService,
  Repository,
  TagService,
  UploadService,
} from '../storage/repository.ts';
import type { KeyedMutex } from '../storage/keyed-mutex.ts';
import type { UploadId } from '../storage/layout.ts';
import type { Action, EventTarget } from './event.ts';
import type { Sink } from './sink.ts';
import type { EventFactory } from './source.ts';

/** What the listener needs besides the repository and the request, shared by all requests. */
export interface ListenerHooks {
  /**
   * A tag's writes and their events are put in order together (see `manifests.put`); so are a
   * manifest's push and delete (keyed `name@digest`, which no `name:tag` key can equal).
   */
  readonly tagOrder: KeyedMutex;
  /**
   * Runs `report` (queues a pull event) once the response has `concluded` with its body sent
   * whole; a pull the client gave up on is counted instead. There is no answer left to fail then,
   * so a report that fails is logged.
   */
  upon(concluded: Promise<boolean>, kind: 'blob' | 'manifest', report: () => Promise<void>): void;
}

/**
 * Decorates a repository's services so that each completed operation emits exactly one event
 * (Distribution's `notifications.Listen`). Each wrapper calls the real method first and emits
 * only when it returned, so a failed or refused operation never emits; handlers never know.
 *
 * A change's event is written to the durable outbox before the wrapper returns, so before the
 * client gets its success response. The one window left: the storage change is committed, then the
 * outbox write happens; a crash between the two loses that event. It is as small as it can be
 * without a shared transaction between storage and outbox: the event is queued in the same turn
 * as the storage call returns, with no other I/O between them, and is on disk with the next group
 * commit (about a millisecond: one hop to the writer thread and one fsync). An outbox write that
 * fails fails the request, so the client retries and the retried operation emits.
 *
 * A pull is reported upon its conclusion: once the body has been sent whole (a client that gives
 * up mid-download has not pulled; it is counted in a metric instead). A HEAD has no body and is
 * reported before its answer, like a change.
 */
export function listen(repo: Repository, ctx: RequestContext, factory: EventFactory, sink: Sink, hooks: ListenerHooks): Repository {
  const emit = (action: Action, target: EventTarget): Promise<void> => sink.write([factory.create(action, target, ctx)]);
  const pulled = (kind: 'blob' | 'manifest', target: EventTarget): void => hooks.upon(ctx.concluded, kind, () => emit('pull', target));
  /** Runs a change to `tag` and queues its event before the next change to that tag may start. */
  const inTagOrder = <T>(tag: Tag | undefined, change: () => Promise<T>): Promise<T> =>
    tag === undefined ? change() : hooks.tagOrder.run(`${repo.name}:${tag}`, change);
  /** Runs a push or delete of `digest` and queues its events before the next one of it may start. */
  const inManifestOrder = <T>(digest: Digest, change: () => Promise<T>): Promise<T> =>
    hooks.tagOrder.run(`${repo.name}@${digest}`, change);
  const url = (kind: 'blobs' | 'manifests', digest: Digest) => `${ctx.baseUrl}/v2/${repo.name}/${kind}/${digest}`;
  const isHead = ctx.method === 'HEAD';

  const blobTarget = (info: BlobInfo): EventTarget => ({
    mediaType: info.mediaType,
    size: info.size,
    digest: info.digest,
    length: info.size,
    repository: repo.name,
    url: url('blobs', info.digest),
  });

  const blobs: BlobService = {
    async stat(digest: Digest) {
      const info = await repo.blobs.stat(digest);
      // A HEAD is reported as a pull (endpoints drop it unless `includehead`); the existence
      // check a GET makes first is not a separate operation and emits nothing.
      if (isHead) await emit('pull', blobTarget(info));
      return info;
    },
    async open(digest: Digest, choose?: RangeChoice) {
      const opened = await repo.blobs.open(digest, choose);
      const { range, info, stream } = opened;
      // A client may close the moment it has the last byte, before the server has seen its file
      // end: a body that went through whole was sent, whatever the response says then.
      let through = 0;
      stream.on('data', (chunk: Buffer) => (through += chunk.length));
      const whole = range ? range.end - range.start + 1 : info.size;
      const target = { ...blobTarget(info), ...(range ? { range: `bytes ${range.start}-${range.end}/${info.size}` } : {}) };
      hooks.upon(ctx.concluded.then((sent) => sent || through >= whole), 'blob', () => emit('pull', target));
      return opened;
    },
    async delete(digest: Digest) {
      const info = await repo.blobs.delete(digest);
      await emit('delete', { mediaType: info.mediaType, digest: info.digest, repository: repo.name });
      return info;
    },
    async mount(digest: Digest, from: RepoName | null) {
      const info = await repo.blobs.mount(digest, from);
      if (info) {
        const { url: link, ...rest } = blobTarget(info);
        await emit('mount', { ...rest, ...(from ? { fromRepository: from } : {}), url: link });
      }
      return info;
    },
  };

  const uploads: UploadService = {
    start: () => repo.uploads.start(),
    status: (id: UploadId) => repo.uploads.status(id),
    append: (id: UploadId, body: Readable, chunk: ChunkOptions) => repo.uploads.append(id, body, chunk),
    cancel: (id: UploadId) => repo.uploads.cancel(id),
    async complete(id: UploadId, digest: Digest, body: Readable | null, chunk: ChunkOptions) {
      const info = await repo.uploads.complete(id, digest, body, chunk);
      await emit('push', blobTarget(info));
      return info;
    },
  };

  const manifestTarget = (info: ManifestInfo, tag: Tag | undefined, content: Buffer | null): EventTarget => ({
    mediaType: info.mediaType,
    size: info.size,
    digest: info.digest,
    length: info.size,
    repository: repo.name,
    url: url('manifests', info.digest),
    ...(tag ? { tag } : {}),
    ...(content ? factory.references(referencesOf(content, info.mediaType)) : {}),
  });

  const manifests: ManifestService = {
    put(reference: ManifestReference, content: Buffer, contentType: string | undefined) {
      // Pushes to one tag from many clients at once: the event order must be the order of the
      // tag writes, or a consumer deploying "the latest push" deploys what the tag no longer names.
      // A push racing a delete of the same manifest: whichever the store did last has the last event.
      const digest = reference.digest ?? digestOf(content, 'sha256');
      return inTagOrder(reference.tag, () =>
        inManifestOrder(digest, async () => {
          const result = await repo.manifests.put(reference, content, contentType);
          await emit('push', { ...manifestTarget(result, result.tag, null), ...factory.references(result.references) });
          return result;
        }),
      );
    },
    async get(reference: ManifestReference, accept?: AcceptedTypes) {
      const manifest = await repo.manifests.get(reference, accept);
      pulled('manifest', manifestTarget(manifest, reference.tag, manifest.content));
      return manifest;
    },
    async stat(reference: ManifestReference, accept?: AcceptedTypes) {
      const info = await repo.manifests.stat(reference, accept);
      if (isHead) {
        const content = factory.includeReferences ? (await repo.manifests.get(reference)).content : null;
        await emit('pull', manifestTarget(info, reference.tag, content));
      }
      return info;
    },
    delete(digest: Digest) {
      return inManifestOrder(digest, async () => {
        const result = await repo.manifests.delete(digest);
        await sink.write([
          factory.create('delete', { mediaType: result.info.mediaType, digest, repository: repo.name }, ctx),
          ...result.tags.map((tag) => factory.create('delete', { repository: repo.name, tag }, ctx)),
        ]);
        return result;
      });
    },
  };

  const tags: TagService = {
    list: () => repo.tags.list(),
    delete(tag: Tag) {
      return inTagOrder(tag, async () => {
        const digest = await repo.tags.delete(tag);
        await emit('delete', { repository: repo.name, tag });
        return digest;
      });
    },
  };

  return { name: repo.name, blobs, uploads, manifests, tags, referrers: repo.referrers };
}


function referencesOf(content: Buffer, mediaType: string) {
  try {
    return parseManifest(content, mediaType).references;
  } catch {
    return [];
  }
}

