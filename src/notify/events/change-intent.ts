import type { Digest } from '../../oci/digest.ts';
import type { RepoName, Tag } from '../../oci/names.ts';
import type { Event } from '../event.ts';

/**
 * A change the registry is about to make, recorded in the outbox before the store is touched.
 * It names what to check afterwards (reconcile.ts): if the process dies between the change and
 * its events, the next start asks the store whether the change happened and emits its events,
 * or drops the intent. It holds only what the store cannot tell once the change is done: the
 * tags a manifest delete is about to remove, whether a push's result was `already` in place
 * before it started (then it changes nothing), the URL base the events name.
 */
export type ChangeIntent =
  | { kind: 'blob.push'; repository: RepoName; digest: Digest; already: boolean; baseUrl: string }
  | { kind: 'blob.mount'; repository: RepoName; digest: Digest; from: RepoName | null; already: boolean; baseUrl: string }
  | { kind: 'blob.delete'; repository: RepoName; digest: Digest }
  | { kind: 'manifest.push'; repository: RepoName; digest: Digest; tag?: Tag; already: boolean; baseUrl: string }
  | { kind: 'manifest.delete'; repository: RepoName; digest: Digest; mediaType: string; tags: Tag[] }
  | { kind: 'tag.delete'; repository: RepoName; tag: Tag };

/** Who asked, as the events will say: captured when the intent is recorded. */
export type EventOrigin = Pick<Event, 'request' | 'actor' | 'source'>;

/** One row of the outbox's `intents` table. */
export interface IntentRecord {
  id: string;
  /** When the change started (ms since the epoch): the events' timestamp if reconciled. */
  at: number;
  change: ChangeIntent;
  origin: EventOrigin;
}
