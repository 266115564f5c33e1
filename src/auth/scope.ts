/**
 * Access as the Docker token spec names it: a resource (`repository:team/app`,
 * `registry:catalog`) and the actions on it. Requests need scopes, tokens carry them as their
 * `access` claim, the token service grants them.
 */
export interface Scope {
  type: string;
  name: string;
  actions: string[];
}

/** The repository actions; `*` in a request or a claim means all of them. */
export const REPOSITORY_ACTIONS = ['pull', 'push', 'delete'] as const;

export function repositoryScope(name: string, ...actions: string[]): Scope {
  return { type: 'repository', name, actions };
}

/** `GET /v2/_catalog`. */
export const CATALOG_SCOPE: Scope = { type: 'registry', name: 'catalog', actions: ['*'] };
/** The operator API (`/notifications/...`). */
export const ADMIN_SCOPE: Scope = { type: 'registry', name: 'admin', actions: ['*'] };

/**
 * `type:name:actions`, where the name may itself hold colons (`repository:host:5000/app:pull`):
 * the type ends at the first colon, the actions start after the last. Null when malformed.
 */
export function parseScope(text: string): Scope | null {
  const first = text.indexOf(':');
  const last = text.lastIndexOf(':');
  if (first <= 0 || last === first) return null;
  const type = text.slice(0, first).replace(/\(.*\)$/, ''); // a resource class, `repository(plugin)`, is not kept
  const name = text.slice(first + 1, last);
  const actions = text.slice(last + 1).split(',').filter(Boolean);
  if (!name || actions.length === 0) return null;
  return { type, name, actions };
}

export function formatScope(scope: Scope): string {
  return `${scope.type}:${scope.name}:${scope.actions.join(',')}`;
}
