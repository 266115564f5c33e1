import type { RepoName } from '../oci/names.ts';
import { RepositoryBlobStore } from './blob-store.ts';
import { ContentStore, listOptional } from './content-store.ts';
import type { StorageDriver } from './driver.ts';
import { KeyedMutex } from './keyed-mutex.ts';
import { layout } from './layout.ts';
import { ManifestCache, type ManifestCacheOptions, DEFAULT_MANIFEST_CACHE } from './manifest-cache.ts';
import { ManifestStore } from './manifest-store.ts';
import { ReferrerIndex } from './referrer-index.ts';
import { ReferrerStore } from './referrer-store.ts';
import type { ManifestService, Registry, Repository } from './repository.ts';
import { TagStore, compareCodeUnits } from './tag-store.ts';
import { UploadHashes } from './upload-hashes.ts';
import { UploadStore } from './upload-store.ts';

/** The registry's semantics, written once on top of any StorageDriver. */
export class StorageRegistry implements Registry {
  readonly content: ContentStore;
  private readonly uploadLocks = new KeyedMutex();
  private readonly manifestLocks = new KeyedMutex();
  /** Taken after a manifest lock, never before (see TagStore). */
  private readonly tagLocks = new KeyedMutex();
  private readonly uploadHashes = new UploadHashes();
  private readonly manifestCache: ManifestCache;
  private readonly referrerIndex: ReferrerIndex;

  constructor(
    readonly driver: StorageDriver,
    cache: ManifestCacheOptions = DEFAULT_MANIFEST_CACHE,
  ) {
    this.manifestCache = new ManifestCache(cache);
    this.content = new ContentStore(driver);
    this.referrerIndex = new ReferrerIndex(driver, this.manifestLocks);
  }

  repository(name: RepoName): Repository {
    return this.stores(name).repository;
  }

  /**
   * The repository as the garbage collector deletes through it: `manifests.delete` removes an
   * untagged manifest's revision older than `cutoff` and never a tag, refusing
   * (ManifestKeptError) one a tag names or a push wrote since (ManifestStore.deleteUntagged).
   */
  collectorRepository(name: RepoName, cutoff: Date): Repository {
    const { repository, manifests } = this.stores(name);
    return { ...repository, manifests: { ...bound(manifests), delete: (digest) => manifests.deleteUntagged(digest, cutoff) } };
  }

  private stores(name: RepoName): { repository: Repository; manifests: ManifestStore } {
    const tags = new TagStore(name, this.driver, this.tagLocks);
    const referrers = new ReferrerStore(name, this.driver, this.referrerIndex);
    const manifests = new ManifestStore(name, this.driver, this.content, tags, referrers, this.manifestLocks, this.manifestCache);
    const repository: Repository = {
      name,
      blobs: new RepositoryBlobStore(name, this.content),
      uploads: new UploadStore(name, this.driver, this.content, this.uploadLocks, this.uploadHashes),
      manifests,
      tags,
      referrers,
    };
    return { repository, manifests };
  }

  async catalog(n: number, last?: string): Promise<{ names: RepoName[]; more: boolean }> {
    // Walks every repository and sorts: simple and exact. A registry with very many
    // repositories would want an index; none exists yet.
    const all = (await this.repositoryNames()).sort(compareCodeUnits);
    const after = last === undefined ? all : all.filter((name) => name > last);
    return { names: after.slice(0, n), more: after.length > n };
  }

  /**
   * Every repository name: a directory under repositories/ holding one of `markers`.
   * Like Distribution's catalog walk, `_`-prefixed directories are never descended into.
   * By default, repositories with manifests or blobs (Distribution's catalog lists only those
   * with `_layers`); the upload purger asks for `_uploads`.
   */
  async repositoryNames(markers: readonly string[] = ['_manifests', '_layers']): Promise<RepoName[]> {
    const names: RepoName[] = [];
    const walk = async (prefix: string): Promise<void> => {
      const dir = prefix ? `${layout.repositoriesRoot}/${prefix}` : layout.repositoriesRoot;
      const children = await listOptional(this.driver, dir);
      if (prefix && children.some((c) => markers.includes(c))) names.push(prefix as RepoName);
      for (const child of children) {
        if (!child.startsWith('_')) await walk(prefix ? `${prefix}/${child}` : child);
      }
    };
    await walk('');
    return names;
  }
}

/** A ManifestService of the store's methods, bound (so they can be spread into another object). */
function bound(store: ManifestStore): ManifestService {
  return {
    put: (reference, content, contentType) => store.put(reference, content, contentType),
    get: (reference, accept) => store.get(reference, accept),
    stat: (reference, accept) => store.stat(reference, accept),
    delete: (digest) => store.delete(digest),
  };
}
