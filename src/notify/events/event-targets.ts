import type { Descriptor } from '../../oci/descriptor.ts';
import type { Digest } from '../../oci/digest.ts';
import { parseManifest } from '../../oci/manifest.ts';
import type { RepoName, Tag } from '../../oci/names.ts';
import type { BlobInfo, ByteRange, ManifestInfo } from '../../storage/repository.ts';
import type { EventTarget } from '../event.ts';
import type { EventFactory } from './source.ts';

/**
 * The `target` of each kind of event, built one way whether the event is made as the operation
 * returns (listener.ts) or at start-up from what the store holds (reconcile.ts).
 */
export class EventTargets {
  constructor(
    private readonly repository: RepoName,
    private readonly baseUrl: string,
    private readonly factory: EventFactory,
  ) {}

  private url(kind: 'blobs' | 'manifests', digest: Digest): string {
    return `${this.baseUrl}/v2/${this.repository}/${kind}/${digest}`;
  }

  blob(info: BlobInfo, range?: ByteRange | null): EventTarget {
    return {
      mediaType: info.mediaType,
      size: info.size,
      digest: info.digest,
      length: info.size,
      repository: this.repository,
      url: this.url('blobs', info.digest),
      ...(range ? { range: `bytes ${range.start}-${range.end}/${info.size}` } : {}),
    };
  }

  mount(info: BlobInfo, from: RepoName | null): EventTarget {
    const { url, ...rest } = this.blob(info);
    return { ...rest, ...(from ? { fromRepository: from } : {}), url };
  }

  blobDeleted(info: Pick<BlobInfo, 'mediaType' | 'digest'>): EventTarget {
    return { mediaType: info.mediaType, digest: info.digest, repository: this.repository };
  }

  /** A manifest; its references (when configured) from `references`, or parsed from `content`. */
  manifest(info: ManifestInfo, tag: Tag | undefined, references: Descriptor[] | Buffer | null): EventTarget {
    // Parsed only when the events carry them: a pull's content is otherwise never read here.
    const refs = !this.factory.includeReferences ? [] : Buffer.isBuffer(references) ? referencesOf(references, info.mediaType) : (references ?? []);
    return {
      mediaType: info.mediaType,
      size: info.size,
      digest: info.digest,
      length: info.size,
      repository: this.repository,
      url: this.url('manifests', info.digest),
      ...(tag ? { tag } : {}),
      ...this.factory.references(refs),
    };
  }

  manifestDeleted(info: Pick<ManifestInfo, 'mediaType' | 'digest'>): EventTarget {
    return { mediaType: info.mediaType, digest: info.digest, repository: this.repository };
  }

  tagDeleted(tag: Tag): EventTarget {
    return { repository: this.repository, tag };
  }
}

function referencesOf(content: Buffer, mediaType: string): Descriptor[] {
  try {
    return parseManifest(content, mediaType).references;
  } catch {
    return [];
  }
}
