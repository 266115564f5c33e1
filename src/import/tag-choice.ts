import { isTag, type Tag } from '../oci/names.ts';

export const DEFAULT_TAG = 'latest' as Tag;
/** The OCI layout's name for an entry of index.json. */
export const REF_NAME = 'org.opencontainers.image.ref.name';

/**
 * The tag part of a name an archive gives its image: `v1` of `v1`, of `docker.io/src/app:v1`
 * (docker's RepoTags) or of `registry:5000/app:v1`; null when there is none, or it is no valid tag.
 */
export function tagOfName(name: string | undefined): Tag | null {
  if (!name) return null;
  if (isTag(name)) return name;
  const reference = name.split('@')[0]!;
  const colon = reference.lastIndexOf(':');
  if (colon < 0 || colon < reference.lastIndexOf('/')) return null;
  const tag = reference.slice(colon + 1);
  return isTag(tag) ? tag : null;
}
