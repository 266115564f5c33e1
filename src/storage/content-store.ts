import type { Readable } from 'node:stream';
import type { Digest } from '../oci/digest.ts';
import type { RepoName } from '../oci/names.ts';
import { isNotFound, type StorageDriver } from './driver.ts';
import { layout } from './layout.ts';

/**
 * The content-addressed layer shared by all repositories: blob bytes stored once by digest,
 * and the per-repository links that make a blob visible in a repository.
 */
export class ContentStore {
  constructor(readonly driver: StorageDriver) {}

  /** Size of the stored blob, or null. */
  async size(digest: Digest): Promise<number | null> {
    try {
      return (await this.driver.stat(layout.blobData(digest))).size;
    } catch (err) {
      if (isNotFound(err)) return null;
      throw err;
    }
  }

  read(digest: Digest, range?: { start: number; end: number }): Promise<Readable> {
    return this.driver.reader(layout.blobData(digest), range);
  }

  getContent(digest: Digest): Promise<Buffer> {
    return this.driver.getContent(layout.blobData(digest));
  }

  /** Stores small content (a manifest) under its digest, once. */
  async putContent(digest: Digest, content: Buffer): Promise<void> {
    if ((await this.size(digest)) === content.length) return;
    await this.driver.putContent(layout.blobData(digest), content);
  }

  /** Publishes a finished upload's file as the blob, atomically; a blob already stored wins. */
  async publish(digest: Digest, uploadedFile: string): Promise<void> {
    if ((await this.size(digest)) !== null) return;
    await this.driver.move(uploadedFile, layout.blobData(digest));
  }

  async isLinked(name: RepoName, digest: Digest): Promise<boolean> {
    return exists(this.driver, layout.layerLink(name, digest));
  }

  async link(name: RepoName, digest: Digest): Promise<void> {
    await this.driver.putContent(layout.layerLink(name, digest), digest);
  }

  async unlink(name: RepoName, digest: Digest): Promise<void> {
    await this.driver.delete(layout.layerDir(name, digest));
  }
}

export async function exists(driver: StorageDriver, path: string): Promise<boolean> {
  try {
    await driver.stat(path);
    return true;
  } catch (err) {
    if (isNotFound(err)) return false;
    throw err;
  }
}

/** Reads a small file, or null when it does not exist. */
export async function readOptional(driver: StorageDriver, path: string): Promise<Buffer | null> {
  try {
    return await driver.getContent(path);
  } catch (err) {
    if (isNotFound(err)) return null;
    throw err;
  }
}

/** Lists a directory, or [] when it does not exist. */
export async function listOptional(driver: StorageDriver, path: string): Promise<string[]> {
  try {
    return await driver.list(path);
  } catch (err) {
    if (isNotFound(err)) return [];
    throw err;
  }
}
