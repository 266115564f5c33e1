import { RegistryError } from '../oci/errors.ts';
import type { Digest } from '../oci/digest.ts';
import { isTag, type RepoName, type Tag } from '../oci/names.ts';
import { exists, listOptional, readOptional } from './content-store.ts';
import type { StorageDriver } from './driver.ts';
import { layout } from './layout.ts';
import type { TagService } from './repository.ts';

export class TagStore implements TagService {
  constructor(
    private readonly name: RepoName,
    private readonly driver: StorageDriver,
  ) {}

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
    const names = await listOptional(this.driver, layout.tagsDir(this.name));
    return names.filter(isTag).sort(compareCodeUnits);
  }

  async delete(tag: Tag): Promise<Digest> {
    const digest = await this.resolve(tag);
    await this.remove(tag);
    return digest;
  }

  /** The digest a tag points at. Throws MANIFEST_UNKNOWN. */
  async resolve(tag: Tag): Promise<Digest> {
    const raw = await readOptional(this.driver, layout.tagLink(this.name, tag));
    if (!raw) {
      throw new RegistryError('MANIFEST_UNKNOWN', `tag ${tag} is unknown to this repository`, { detail: { tag } });
    }
    return raw.toString('utf8') as Digest;
  }

  async set(tag: Tag, digest: Digest): Promise<void> {
    await this.driver.putContent(layout.tagLink(this.name, tag), digest);
  }

  async remove(tag: Tag): Promise<void> {
    await this.driver.delete(layout.tagDir(this.name, tag)).catch(() => undefined);
  }

  async pointingAt(digest: Digest): Promise<Tag[]> {
    const found: Tag[] = [];
    for (const name of await listOptional(this.driver, layout.tagsDir(this.name))) {
      if (!isTag(name)) continue;
      const raw = await readOptional(this.driver, layout.tagLink(this.name, name));
      if (raw?.toString('utf8') === digest) found.push(name);
    }
    return found.sort(compareCodeUnits);
  }
}

/** Lexical order by UTF-16 code units, as Distribution and the spec's examples sort. */
export function compareCodeUnits(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
