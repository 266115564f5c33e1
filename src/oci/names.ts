import { RegistryError } from './errors.ts';

/** A repository name that matched the spec's grammar. */
export type RepoName = string & { readonly __brand: 'RepoName' };
/** A tag that matched the spec's grammar. */
export type Tag = string & { readonly __brand: 'Tag' };

// From the distribution-spec: [a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*(\/[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*)*
const NAME_COMPONENT = '[a-z0-9]+(?:(?:\\.|_|__|-+)[a-z0-9]+)*';
const NAME = new RegExp(`^${NAME_COMPONENT}(?:/${NAME_COMPONENT})*$`);
const TAG = /^[a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}$/;
/** Distribution's limit; a name longer than this cannot form a valid reference. */
export const MAX_NAME_LENGTH = 255;

export function parseRepoName(value: string): RepoName {
  if (value.length === 0 || value.length > MAX_NAME_LENGTH || !NAME.test(value)) {
    throw new RegistryError('NAME_INVALID', `invalid repository name "${value.slice(0, 300)}"`, {
      detail: { name: value.slice(0, 300) },
    });
  }
  return value as RepoName;
}

export function isTag(value: string): value is Tag {
  return TAG.test(value);
}

export function parseTag(value: string): Tag {
  if (!isTag(value)) {
    throw new RegistryError('MANIFEST_INVALID', `invalid tag "${value.slice(0, 200)}"`, { detail: { tag: value.slice(0, 200) } });
  }
  return value;
}
