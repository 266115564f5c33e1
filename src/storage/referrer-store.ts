import type { Descriptor } from '../oci/descriptor.ts';
import type { Digest } from '../oci/digest.ts';
import type { RepoName } from '../oci/names.ts';
import { listOptional, readOptional } from './content-store.ts';
import { isNotFound, type StorageDriver } from './driver.ts';
import { layout } from './layout.ts';
import type { ReferrerIndex } from './referrer-index.ts';
import type { ReferrerService } from './repository.ts';

/** `<alg>-<hex>`, as layout.referrerEntry names an entry. */
const REFERRER_ENTRY = /^(sha256-[0-9a-f]{64}|sha512-[0-9a-f]{128})$/;

/**
 * The referrers index: for each subject digest, one small file per manifest that names it as
 * its `subject`, holding the descriptor the referrers API returns. Ours alone: it lives under
 * `_referrers`, which Distribution never reads.
 */
export class ReferrerStore implements ReferrerService {
  constructor(
    private readonly name: RepoName,
    private readonly driver: StorageDriver,
    /** Builds the index from the manifests where it is missing (a root Distribution wrote). */
    private readonly index: ReferrerIndex,
  ) {}

  async add(subject: Digest, referrer: Descriptor): Promise<void> {
    await this.driver.putContent(layout.referrerEntry(this.name, subject, referrer.digest), JSON.stringify(referrer));
  }

  /** A manifest was pushed (its entry, if any, is written): see ReferrerIndex.manifestAdded. */
  manifestAdded(): Promise<void> {
    return this.index.manifestAdded(this.name);
  }

  async remove(subject: Digest, referrer: Digest): Promise<void> {
    try {
      await this.driver.delete(layout.referrerEntry(this.name, subject, referrer));
    } catch (err) {
      if (!isNotFound(err)) throw err;
    }
  }

  async list(subject: Digest, artifactType?: string): Promise<Descriptor[]> {
    await this.index.ensure(this.name);
    const dir = layout.referrersDir(this.name, subject);
    const out: Descriptor[] = [];
    for (const entry of (await listOptional(this.driver, dir)).sort()) {
      if (!REFERRER_ENTRY.test(entry)) continue; // not an entry (a temp file of an older version)
      const raw = await readOptional(this.driver, `${dir}/${entry}`);
      if (!raw) continue;
      const d = JSON.parse(raw.toString('utf8')) as Descriptor;
      if (artifactType !== undefined && d.artifactType !== artifactType) continue;
      // A referrer deleted behind our back (Distribution's DELETE or its garbage collector, which
      // know nothing of this index) is not listed: only what the registry still serves.
      if (!(await readOptional(this.driver, layout.revisionLink(this.name, d.digest)))) continue;
      out.push(d);
    }
    return out;
  }
}
