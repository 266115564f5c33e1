import type { Readable } from 'node:stream';
import { digestOf, type Digest } from '../../oci/digest.ts';
import type { RepoName, Tag } from '../../oci/names.ts';
import type { RequestContext } from '../../oci/request-context.ts';
import type { KeyedMutex } from '../../storage/keyed-mutex.ts';
import type { UploadId } from '../../storage/layout.ts';
import type {
  AcceptedTypes,
  ChunkOptions,
  ManifestReference,
  RangeChoice,
  Repository,
  BlobService,
  ManifestService,
  TagService,
  UploadService,
} from '../../storage/repository.ts';
import type { Action, Event, EventTarget } from '../event.ts';
import type { ChangeIntent } from './change-intent.ts';
import type { EventJournal } from './event-journal.ts';
import { EventTargets } from './event-targets.ts';
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
 * (Distribution's `notifications.Listen`); handlers never know.
 *
 * A change runs inside the journal (event-journal.ts): its intent is durable before the store is
 * touched and its events replace the intent once it returned, before the client's answer, so a
 * crash at any step leaves either the events or an intent that the next start reconciles with
 * the store. A change refused before it changed anything emits nothing.
 *
 * Changes of one tag, and a push and a delete of one manifest, run one at a time with their
 * events (`tagOrder`): the order of the events is the order of the store's writes, so a consumer
 * deploying "the latest push" of a tag deploys what the tag names. Locks are always taken tags
 * first (in order), then the manifest, so no two changes wait on each other.
 *
 * A pull is reported upon its conclusion: once the body has been sent whole (a client that gives
 * up mid-download has not pulled; it is counted in a metric instead). A HEAD has no body and is
 * reported before its answer, like a change.
 */
export function listen(repo: Repository, ctx: RequestContext, factory: EventFactory, journal: EventJournal, hooks: ListenerHooks): Repository {
  const name = repo.name;
  const targets = new EventTargets(name, ctx.baseUrl, factory);
  const event = (action: Action, target: EventTarget): Event => factory.create(action, target, ctx);
  const emit = (action: Action, target: EventTarget): Promise<void> => journal.record([event(action, target)]);
  const pulled = (kind: 'blob' | 'manifest', target: EventTarget): void => hooks.upon(ctx.concluded, kind, () => emit('pull', target));
  const change = <T>(intent: ChangeIntent, run: () => Promise<T>, eventsOf: (result: T) => Event[]): Promise<T> =>
    inOrderOf(hooks.tagOrder, intent, () => journal.change(intent, ctx, run, eventsOf));
  const isHead = ctx.method === 'HEAD';
  const linked = (digest: Digest): Promise<boolean> => repo.blobs.stat(digest).then(() => true, () => false);

  const blobs: BlobService = {
    async stat(digest: Digest) {
      const info = await repo.blobs.stat(digest);
      // A HEAD is reported as a pull (endpoints drop it unless `includehead`); the existence
      // check a GET makes first is not a separate operation and emits nothing.
      if (isHead) await emit('pull', targets.blob(info));
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
      const target = targets.blob(info, range);
      hooks.upon(ctx.concluded.then((sent) => sent || through >= whole), 'blob', () => emit('pull', target));
      return opened;
    },
    async locate(digest: Digest) {
      // A redirect is where our part of the pull ends: reported once the 307 has gone out
      // (Distribution reports it then too); whether the client then fetched it, only the store knows.
      const located = await repo.blobs.locate(digest);
      if (located) pulled('blob', targets.blob(located.info));
      return located;
    },
    delete: (digest: Digest) =>
      change({ kind: 'blob.delete', repository: name, digest }, () => repo.blobs.delete(digest), (info) => [
        event('delete', targets.blobDeleted(info)),
      ]),
    async mount(digest: Digest, from: RepoName | null) {
      const already = await linked(digest);
      return change(
        { kind: 'blob.mount', repository: name, digest, from, already, baseUrl: ctx.baseUrl },
        () => repo.blobs.mount(digest, from),
        (info) => (info ? [event('mount', targets.mount(info, from))] : []),
      );
    },
  };

  const uploads: UploadService = {
    start: () => repo.uploads.start(),
    status: (id: UploadId) => repo.uploads.status(id),
    append: (id: UploadId, body: Readable, chunk: ChunkOptions) => repo.uploads.append(id, body, chunk),
    cancel: (id: UploadId) => repo.uploads.cancel(id),
    async complete(id: UploadId, digest: Digest, body: Readable | null, chunk: ChunkOptions) {
      const already = await linked(digest);
      return change(
        { kind: 'blob.push', repository: name, digest, already, baseUrl: ctx.baseUrl },
        () => repo.uploads.complete(id, digest, body, chunk),
        (info) => [event('push', targets.blob(info))],
      );
    },
  };

  const manifests: ManifestService = {
    async put(reference: ManifestReference, content: Buffer, contentType: string | undefined) {
      const digest = reference.digest ?? digestOf(content, 'sha256');
      const intent = (already: boolean): ChangeIntent => ({
        kind: 'manifest.push',
        repository: name,
        digest,
        ...(reference.tag ? { tag: reference.tag } : {}),
        already,
        baseUrl: ctx.baseUrl,
      });
      // Whether the push changes anything is read in the order of the tag and the manifest.
      return inOrderOf(hooks.tagOrder, intent(false), async () => {
        const already = await holds(repo, digest, reference.tag);
        return journal.change(intent(already), ctx, () => repo.manifests.put(reference, content, contentType), (result) => [
          event('push', targets.manifest(result, result.tag, result.references)),
        ]);
      });
    },
    async get(reference: ManifestReference, accept?: AcceptedTypes) {
      const manifest = await repo.manifests.get(reference, accept);
      pulled('manifest', targets.manifest(manifest, reference.tag, manifest.content));
      return manifest;
    },
    async stat(reference: ManifestReference, accept?: AcceptedTypes) {
      const info = await repo.manifests.stat(reference, accept);
      if (isHead) {
        const content = factory.includeReferences ? (await repo.manifests.get(reference)).content : null;
        await emit('pull', targets.manifest(info, reference.tag, content));
      }
      return info;
    },
    delete: (digest: Digest) =>
      deleteInOrder(repo, hooks.tagOrder, digest, (tags, mediaType) =>
        journal.change(
          { kind: 'manifest.delete', repository: name, digest, mediaType, tags },
          ctx,
          () => repo.manifests.delete(digest),
          (result) => [
            event('delete', targets.manifestDeleted({ mediaType: result.info.mediaType, digest })),
            ...result.tags.map((tag) => event('delete', targets.tagDeleted(tag))),
          ],
        ),
      ),
  };

  const tags: TagService = {
    list: () => repo.tags.list(),
    pointingAt: (digest: Digest) => repo.tags.pointingAt(digest),
    delete: (tag: Tag) =>
      change({ kind: 'tag.delete', repository: name, tag }, () => repo.tags.delete(tag), () => [event('delete', targets.tagDeleted(tag))]),
  };

  return { name, blobs, uploads, manifests, tags, referrers: repo.referrers };
}

/** The order keys of a change: its tags first (sorted), then its manifest. */
function orderKeys(change: ChangeIntent): string[] {
  const repo = change.repository;
  switch (change.kind) {
    case 'manifest.push':
      return [...(change.tag ? [`${repo}:${change.tag}`] : []), `${repo}@${change.digest}`];
    case 'manifest.delete':
      return [...[...change.tags].sort().map((tag) => `${repo}:${tag}`), `${repo}@${change.digest}`];
    case 'tag.delete':
      return [`${repo}:${change.tag}`];
    default:
      return [];
  }
}

/** Runs `task` holding every order key of `change`, taken in order. */
export function inOrderOf<T>(mutex: KeyedMutex, change: ChangeIntent, task: () => Promise<T>): Promise<T> {
  return orderKeys(change).reduceRight<() => Promise<T>>((inner, key) => () => mutex.run(key, inner), task)();
}

/** Whether the store already holds what a push of `digest` (to `tag`) would make. */
async function holds(repo: Repository, digest: Digest, tag: Tag | undefined): Promise<boolean> {
  try {
    const info = await repo.manifests.stat(tag ? { tag } : { digest });
    return info.digest === digest;
  } catch {
    return false;
  }
}

/**
 * Runs a manifest delete holding the order of the manifest and of every tag it will remove, so
 * that no push to one of those tags slips between the removal and its event. The tags are
 * listed, locked, and listed again under the locks; while new ones appeared, again (a few times:
 * under the manifest's lock no push of it can add more).
 */
async function deleteInOrder<T>(
  repo: Repository,
  mutex: KeyedMutex,
  digest: Digest,
  task: (tags: Tag[], mediaType: string) => Promise<T>,
): Promise<T> {
  let tags = await repo.tags.pointingAt(digest);
  for (let round = 0; ; round++) {
    const locked = tags;
    type Outcome = { done: true; result: T } | { done: false; more: Tag[] };
    const outcome = await inOrderOf<Outcome>(mutex, { kind: 'manifest.delete', repository: repo.name, digest, mediaType: '', tags: locked }, async () => {
      const info = await repo.manifests.stat({ digest });
      const now = await repo.tags.pointingAt(digest);
      if (round < 3 && now.some((tag) => !locked.includes(tag))) return { done: false, more: now };
      return { done: true, result: await task(now, info.mediaType) };
    });
    if (outcome.done) return outcome.result;
    tags = [...new Set([...locked, ...outcome.more])];
  }
}
