import type { Readable } from 'node:stream';
import { RegistryError } from '../oci/errors.ts';
import type { Digest } from '../oci/digest.ts';
import { MediaType } from '../oci/media-types.ts';
import type { RepoName } from '../oci/names.ts';
import { failpoint } from '../failpoint.ts';
import type { ContentStore } from './content-store.ts';
import { isNotFound } from './driver.ts';
import { Failpoints } from './failpoints.ts';
import { reclaimBlob } from './gc/reclaim.ts';
import { layout } from './layout.ts';
import type { BlobInfo, BlobService, ByteRange, RangeChoice } from './repository.ts';

/** Blobs as one repository sees them: only those pushed or mounted into it. */
export class RepositoryBlobStore implements BlobService {
  constructor(
    private readonly name: RepoName,
    private readonly content: ContentStore,
  ) {}

  async stat(digest: Digest): Promise<BlobInfo> {
    const size = (await this.content.isLinked(this.name, digest)) ? await this.content.size(digest) : null;
    if (size === null) throw unknownBlob(digest);
    return { digest, size, mediaType: MediaType.OctetStream };
  }

  async open(digest: Digest, choose?: RangeChoice): Promise<{ info: BlobInfo; stream: Readable; range: ByteRange | null }> {
    const info = await this.stat(digest);
    const range = choose ? choose(info.size) : null;
    return { info, range, stream: await this.content.read(digest, range ?? undefined) };
  }

  async locate(digest: Digest): Promise<{ info: BlobInfo; url: string } | null> {
    const info = await this.stat(digest);
    const driver = this.content.driver;
    const url = driver.redirectUrl ? await driver.redirectUrl(layout.blobData(digest)) : null;
    return url ? { info, url } : null;
  }

  async delete(digest: Digest): Promise<BlobInfo> {
    const info = await this.stat(digest);
    // Only the repository's link goes; the bytes stay for other repositories (garbage
    // collection of unreferenced blobs is an offline job, as in Distribution).
    await this.content.unlink(this.name, digest);
    failpoint(Failpoints.blobUnlinked);
    return info;
  }

  async mount(digest: Digest, from: RepoName | null): Promise<BlobInfo | null> {
    if (from !== null && !(await this.content.isLinked(from, digest))) return null;
    const size = await this.content.size(digest);
    if (size === null) return null;
    await this.content.link(this.name, digest);
    failpoint(Failpoints.blobMounted);
    // Checked again now the link is written: a collector that moved the blob aside after the
    // check above gives it back (reclaimBlob); one that dropped it meanwhile had not seen our link,
    // so it is undone and the mount refused (the client uploads the blob instead).
    if (!(await reclaimBlob(this.content.driver, digest))) {
      await this.content.unlink(this.name, digest).catch((err: unknown) => {
        if (!isNotFound(err)) throw err;
      });
      return null;
    }
    return { digest, size, mediaType: MediaType.OctetStream };
  }
}

export function unknownBlob(digest: Digest): RegistryError {
  return new RegistryError('BLOB_UNKNOWN', `blob ${digest} is unknown to this repository`, { detail: { digest } });
}
