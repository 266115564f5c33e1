import type { Identity } from '../auth/identity.ts';
import type { Digest } from '../oci/digest.ts';
import { parseRepoName, type RepoName } from '../oci/names.ts';
import type { Registry } from '../storage/repository.ts';

const CATALOG_PAGE = 1000;

/**
 * Where a cross-repository mount may take the blob from, for this caller: `from` when they may
 * pull it; without `from`, anywhere for a caller who may pull everything, else the first
 * repository holding the blob that they may pull. Undefined when there is no such source (the
 * client then gets an ordinary upload session, as when the blob is not there: nothing is told).
 */
export async function mountSource(
  registry: Registry,
  identity: Identity,
  digest: Digest,
  fromParam: string | undefined,
): Promise<RepoName | null | undefined> {
  const mayPull = (name: string) => identity.may('repository', name, 'pull');
  if (fromParam !== undefined) {
    const from = parseRepoName(fromParam);
    return mayPull(from) ? from : undefined;
  }
  if (identity.unrestricted) return null;
  let last: string | undefined;
  for (;;) {
    const page = await registry.catalog(CATALOG_PAGE, last);
    for (const name of page.names) {
      if (mayPull(name) && (await holds(registry, name, digest))) return name;
    }
    last = page.names[page.names.length - 1];
    if (!page.more || last === undefined) return undefined;
  }
}

async function holds(registry: Registry, name: RepoName, digest: Digest): Promise<boolean> {
  try {
    await registry.repository(name).blobs.stat(digest);
    return true;
  } catch {
    return false;
  }
}
