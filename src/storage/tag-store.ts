import { RegistryError } from '../oci/errors.ts';
import type { Digest } from '../oci/digest.ts';
import { isTag, type RepoName, type Tag } from '../oci/names.ts';
import { failpoint } from '../failpoint.ts';
import { exists, listOptional, readOptional } from './content-store.ts';
import { isNotFound, type StorageDriver } from './driver.ts';
import { Failpoints } from './failpoints.ts';
import type { KeyedMutex } from './keyed-mutex.ts';
import { layout } from './layout.ts';
import type { TagService } from './repository.ts';

/**
 * Tags of one repository. Every write of one tag (set, remove, delete) runs under that tag's
 * lock, so a removal that checks where the tag points and then deletes it cannot undo a push
 * that moved the tag in between. Lock order: a caller holding a manifest lock may take a tag
 * lock (ManifestStore.put and delete do); nothing here takes a manifest lock, so no deadlock.
 */
export class TagStore implements TagService {
  constructor(
    private readonly name: RepoName,
    private readonly driver: StorageDriver,
    /** Shared by every TagStore of the registry; keys are `${repo}:${tag}`. Not reentrant. */
    private readonly tagLocks: KeyedMutex,
  ) {}

  private locked<T>(tag: Tag, task: () => Promise<T>): Promise<T> {
    return this.tagLocks.run(`${this.name}:${tag}`, task);
  }

  async list(): Promise<Tag[]> {
    // A repository exists once it holds a manifest or a blob; a bare path prefix of one does not.
    const known =
      (await exists(this.driver, layout.manifestsDir(this.name))) ||
      (await exists(this.driver, layout.layersDir(this.name)));
    if (!known) {
      throw new RegistryError('NAME_UNKNOWN', `repository ${this.name} is not known to this registry`, {
        detail: { name: this.name },
      });
    }
    // Only tags that resolve: a directory without its link (left by a crash under an older
    // version, which created the directory before the link) is not a tag.
    const tags: Tag[] = [];
    for (const name of await listOptional(this.driver, layout.tagsDir(this.name))) {
      if (isTag(name) && (await this.target(name)) !== null) tags.push(name);
    }
    return tags.sort(compareCodeUnits);
  }

  delete(tag: Tag): Promise<Digest> {
    return this.locked(tag, async () => {
      const digest = await this.resolve(tag);
      if (!(await this.removeLocked(tag))) throw unknownTag(tag);
      failpoint(Failpoints.tagRemoved);
      return digest;
    });
  }

  /** The digest a tag points at. Throws MANIFEST_UNKNOWN. */
  async resolve(tag: Tag): Promise<Digest> {
    const digest = await this.target(tag);
    if (digest === null) throw unknownTag(tag);
    return digest;
  }

  /** The digest a tag's link holds, or null when it has none. */
  private async target(tag: Tag): Promise<Digest | null> {
    const raw = await readOptional(this.driver, layout.tagLink(this.name, tag));
    return raw && raw.length > 0 ? (raw.toString('utf8') as Digest) : null;
  }

  /**
   * Points the tag at `digest` and records the digest in the tag's index, as Distribution does.
   * `current/link` goes first: a new tag's directory appears with it in one step (the driver
   * publishes a missing subtree whole), so no reader, ours or Distribution's (which lists tag
   * directories without reading them), sees a tag without its link. Distribution writes the
   * index first; a crash between our two writes leaves only an index entry missing, which no
   * read of a tag or manifest needs (Distribution resolves tags by `current/link` alone).
   */
  set(tag: Tag, digest: Digest): Promise<void> {
    return this.locked(tag, async () => {
      await this.driver.putContent(layout.tagLink(this.name, tag), digest);
      await this.driver.putContent(layout.tagIndexLink(this.name, tag, digest), digest);
    });
  }

  /**
   * Removes a tag; with `expected`, only while it still points there (a push may have moved it
   * since it was read). True when this call removed it; false when it was not there (or had
   * moved). Every other storage error is thrown: a failed removal must not be reported as done.
   */
  remove(tag: Tag, expected?: Digest): Promise<boolean> {
    return this.locked(tag, async () => {
      if (expected !== undefined && (await this.target(tag)) !== expected) return false;
      return this.removeLocked(tag);
    });
  }

  /** The removal itself (the whole tag directory, index included, as Distribution's Untag); the caller holds the tag's lock. */
  private async removeLocked(tag: Tag): Promise<boolean> {
    try {
      await this.driver.delete(layout.tagDir(this.name, tag));
      return true;
    } catch (err) {
      if (isNotFound(err)) return false;
      throw err;
    }
  }

  /** Read without the tag locks: a tag moved meanwhile is caught by remove's check. */
  async pointingAt(digest: Digest): Promise<Tag[]> {
    const found: Tag[] = [];
    for (const name of await listOptional(this.driver, layout.tagsDir(this.name))) {
      if (isTag(name) && (await this.target(name)) === digest) found.push(name);
    }
    return found.sort(compareCodeUnits);
  }
}

function unknownTag(tag: Tag): RegistryError {
  return new RegistryError('MANIFEST_UNKNOWN', `tag ${tag} is unknown to this repository`, { detail: { tag } });
}

/** Lexical order by UTF-16 code units, as Distribution and the spec's examples sort. */
export function compareCodeUnits(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
