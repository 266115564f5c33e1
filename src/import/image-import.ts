import type { Tag } from '../oci/names.ts';
import type { Repository } from '../storage/repository.ts';
import { ArchiveError } from './archive-error.ts';
import { ArchiveCatalog } from './catalog.ts';
import { planDockerArchive } from './docker-archive.ts';
import { planOciLayout } from './oci-layout.ts';
import { pushPlan, type ImportResult } from './push.ts';

export type { ImportResult } from './push.ts';

/**
 * Imports an image archive (an OCI image layout tarball or a `docker save` tarball, either
 * gzip'd or not) spooled at `file` into `repo`. The archive is read a few times from disk
 * (which files it holds; its manifests; then the blobs, streamed) and is never held in memory.
 * Throws ArchiveError for an archive that cannot be imported, before any manifest is written.
 *
 * Docker 25 and later write both an OCI layout and manifest.json: the layout is used, so the
 * manifests keep their digests.
 */
export async function importArchive(file: string, repo: Repository, options: { tag: Tag | null }): Promise<ImportResult> {
  const catalog = await ArchiveCatalog.scan(file);
  let plan;
  if (catalog.top.has('index.json')) plan = await planOciLayout(catalog, options.tag);
  else if (catalog.top.has('manifest.json')) plan = await planDockerArchive(catalog, options.tag);
  else throw new ArchiveError('the archive holds neither index.json (an OCI image layout) nor manifest.json (docker save) at its top', {});
  return pushPlan(file, plan, repo);
}
