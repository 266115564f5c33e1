import * as path from 'node:path';
import { describe, it } from 'node:test';
import { JournalFailpoints } from '../../src/notify/events/event-journal.ts';
import { Failpoints } from '../../src/storage/failpoints.ts';
import { runChain, type ChainStorage } from './crash-chain.ts';
import { checkFiles } from './crash-checks.ts';
import {
  blobChunked,
  blobDelete,
  blobMonolithic,
  manifestDelete,
  manifestPush,
  mount,
  tagDelete,
  type CrashCase,
} from './crash-operations.ts';

/**
 * Every crash point, deterministically: the registry runs as a child process with
 * DOCKYARD_FAILPOINTS set, the operation that reaches the failpoint kills it there (SIGKILL), and
 * a registry started again on the same storage must show a consistent store (everything listed
 * is readable, every blob has its digest, nothing half-written is served), must have delivered
 * the events of exactly what the interrupted request did (what the store shows has its event,
 * what it does not show has none; every tag it lists has a push event for that tag and digest),
 * and must accept a retry of the interrupted operation.
 *
 * The failpoints are the storage steps of each write path (src/storage/failpoints.ts) and the
 * journal's (an intent recorded before the change, the events committed before the answer).
 * Each case needs two process starts (the armed one that dies, and the clean one that checks,
 * retries and prepares the next case), so the cases run in a few chains side by side.
 */

const F = Failpoints;
const J = JournalFailpoints;
const tagged = manifestPush(true);
const byDigest = manifestPush(false, true);
const mono = blobMonolithic;
/**
 * The cases, in chains that run side by side (each on its own storage and port). Within a chain,
 * the registry armed for a case first checks the store and retries the previous case, unless
 * that retry would pass its failpoint (then a clean registry does it): order them so that
 * neighbours differ. Driver failpoints (`storage.fs.*`, hit by every write) always get a clean
 * one; journal failpoints are per kind of change, so only a retry of that kind passes them.
 */
const CHAINS: CrashCase[][] = [
  [
    // Upload completion: PUT hits putContent(state completing) #1, the move into a new blob
    // directory #2, the layer link #3, putContent(state completed) #4.
    { failpoint: F.blobWritten, op: mono },
    { failpoint: F.manifestWritten, op: tagged },
    { failpoint: F.uploadCompleting, op: mono },
    { failpoint: F.revisionLinked, op: tagged },
    { failpoint: F.blobPublished, op: mono },
    { failpoint: F.tagWritten, op: tagged },
    { failpoint: F.blobLinked, op: mono },
    { failpoint: F.blobMounted, op: mount },
    { failpoint: F.uploadClosed, op: mono },
    { failpoint: `${F.fileWritten}@1`, op: mono },
    { failpoint: `${F.subtreeStaged}@1`, op: mono },
    { failpoint: `${F.renamed}@2`, op: mono },
    // A manifest pushed by tag: manifest bytes #1, revision link #2, tag link #3, each in a new directory.
    { failpoint: `${F.subtreeStaged}@3`, op: tagged },
  ],
  [
    { failpoint: `${F.manifestUntagged}@1`, op: manifestDelete() },
    { failpoint: F.blobPublished, op: blobChunked },
    { failpoint: `${F.manifestUntagged}@2`, op: manifestDelete() },
    { failpoint: F.manifestWritten, op: byDigest },
    { failpoint: F.manifestDeleted, op: manifestDelete() },
    { failpoint: F.referrerAdded, op: byDigest },
    { failpoint: F.referrerRemoved, op: manifestDelete(true) },
    { failpoint: F.blobWritten, op: blobChunked },
    { failpoint: F.tagRemoved, op: tagDelete },
    { failpoint: F.blobUnlinked, op: blobDelete },
    { failpoint: `${F.deleteRenamed}@1`, op: tagDelete },
  ],
  [
    // Every kind of change between its intent and its change, and between its events and its answer.
    { failpoint: `${J.intentRecorded}.blob.push`, op: mono },
    { failpoint: `${J.eventsCommitted}.manifest.push`, op: byDigest },
    { failpoint: `${J.intentRecorded}.blob.mount`, op: mount },
    { failpoint: `${J.eventsCommitted}.blob.push`, op: blobChunked },
    { failpoint: `${J.intentRecorded}.manifest.push`, op: tagged },
    { failpoint: `${J.eventsCommitted}.manifest.delete`, op: manifestDelete() },
    { failpoint: `${J.intentRecorded}.tag.delete`, op: tagDelete },
    { failpoint: `${J.eventsCommitted}.blob.delete`, op: blobDelete },
    { failpoint: `${J.intentRecorded}.manifest.delete`, op: manifestDelete() },
    { failpoint: `${J.eventsCommitted}.blob.mount`, op: mount },
    { failpoint: `${J.intentRecorded}.blob.delete`, op: blobDelete },
    { failpoint: `${J.eventsCommitted}.tag.delete`, op: tagDelete },
    { failpoint: `${J.intentRecorded}.blob.push`, op: blobChunked },
    { failpoint: `${J.eventsCommitted}.manifest.push`, op: tagged },
    { failpoint: `${J.eventsCommitted}.blob.push`, op: mono },
    { failpoint: `${J.intentRecorded}.manifest.push`, op: byDigest },
  ],
] as CrashCase[][];

/** A filesystem root under the chain's directory, checked on disk. */
const filesystem = async (dir: string): Promise<ChainStorage> => {
  const root = path.join(dir, 'data');
  return { storage: { filesystem: { rootdirectory: root } }, checkFiles: () => checkFiles(root) };
};

describe('crash at every failpoint of every write', { concurrency: CHAINS.length }, () => {
  CHAINS.forEach((cases, i) => {
    it(`chain ${i + 1} (${cases.length} kill points)`, (t) => runChain(t, cases, filesystem));
  });
});
