import { sendJson } from '../handler.ts';
import type { V2Router } from '../v2-router.ts';
import type { ApiDeps } from '../deps.ts';
import { Header } from '../headers.ts';
import { nextLink, pagination } from '../params.ts';
import { resource } from '../resource.ts';

/** Distribution's `catalog.maxentries` default. */
const CATALOG_MAX_ENTRIES = 1000;

export function registerCatalogRoutes(router: V2Router, deps: Pick<ApiDeps, 'registry' | 'guards'>): void {
  resource(router, /^\/v2\/_catalog$/, {
    GET: [deps.guards.catalog, async (req, res) => {
      const { n, last } = pagination(req, CATALOG_MAX_ENTRIES, CATALOG_MAX_ENTRIES);
      const page = n === 0 ? { names: [], more: false } : await deps.registry.catalog(n, last);
      const lastName = page.names[page.names.length - 1];
      if (page.more && lastName !== undefined) res.setHeader(Header.Link, nextLink('/v2/_catalog', n, lastName));
      sendJson(req, res, { repositories: page.names });
    }],
  });
}
