import { isRegistryError } from '../../oci/errors.ts';
import { MediaType } from '../../oci/media-types.ts';
import type { Repository } from '../../storage/repository.ts';
import type { Action, Event, EventTarget } from '../event.ts';
import type { IntentRecord } from './change-intent.ts';
import { EventTargets } from './event-targets.ts';
import type { EventFactory } from './source.ts';

/**
 * What an intent's change left in the store, as the events it owes: asked at start-up for an
 * intent a crash left behind, and at once when a change failed part-way (a storage fault). The
 * store is the truth: what it holds is reported, what it does not hold is not. A push whose
 * result was already in place before it started (`already`) changed nothing and owes nothing.
 */
export async function eventsOwed(record: IntentRecord, repo: Repository, factory: EventFactory): Promise<Event[]> {
  const c = record.change;
  const targets = new EventTargets(c.repository, 'baseUrl' in c ? c.baseUrl : '', factory);
  const make = (action: Action, target: EventTarget): Event => factory.recreate(action, target, record.origin, record.at);
  switch (c.kind) {
    case 'blob.push':
    case 'blob.mount': {
      if (c.already) return [];
      const info = await found(() => repo.blobs.stat(c.digest));
      if (!info) return [];
      return [c.kind === 'blob.push' ? make('push', targets.blob(info)) : make('mount', targets.mount(info, c.from))];
    }
    case 'blob.delete': {
      const info = await found(() => repo.blobs.stat(c.digest));
      return info ? [] : [make('delete', targets.blobDeleted({ mediaType: MediaType.OctetStream, digest: c.digest }))];
    }
    case 'manifest.push': {
      if (c.already) return [];
      const manifest = await found(() => repo.manifests.get({ digest: c.digest }));
      if (!manifest) return [];
      // Bytes and revision in place but the tag not yet moved: the manifest was pushed by digest.
      const tagged = c.tag !== undefined && (await found(() => repo.manifests.stat({ tag: c.tag! })))?.digest === c.digest;
      return [make('push', targets.manifest(manifest, tagged ? c.tag : undefined, manifest.content))];
    }
    case 'manifest.delete': {
      // Tags go first, the revision last: a delete cut short owes the events of the tags it removed.
      const events: Event[] = [];
      if (!(await found(() => repo.manifests.stat({ digest: c.digest })))) {
        events.push(make('delete', targets.manifestDeleted({ mediaType: c.mediaType, digest: c.digest })));
      }
      for (const tag of c.tags) {
        if (!(await found(() => repo.manifests.stat({ tag })))) events.push(make('delete', targets.tagDeleted(tag)));
      }
      return events;
    }
    case 'tag.delete': {
      const still = await found(() => repo.manifests.stat({ tag: c.tag }));
      return still ? [] : [make('delete', targets.tagDeleted(c.tag))];
    }
  }
}

/** The value, or null when the store says it is not there; any other error (a fault) is thrown. */
async function found<T>(read: () => Promise<T>): Promise<T | null> {
  try {
    return await read();
  } catch (err) {
    if (isRegistryError(err) && err.status === 404) return null;
    throw err;
  }
}
