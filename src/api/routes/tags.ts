import { sendJson } from '../handler.ts';
import type { V2Router } from '../v2-router.ts';
import type { ApiDeps } from '../deps.ts';
import { Header } from '../headers.ts';
import { contextOf } from '../request-context.ts';
import { nameParam, nextLink, pagination } from '../params.ts';
import { resource } from '../resource.ts';

export function registerTagRoutes(router: V2Router, deps: Pick<ApiDeps, 'repository' | 'guards'>): void {
  resource(router, /^\/v2\/(.+)\/tags\/list$/, {
    GET: [deps.guards.pull, async (req, res) => {
      const name = nameParam(req);
      const { n, last, explicit } = pagination(req, Number.MAX_SAFE_INTEGER, Number.MAX_SAFE_INTEGER);
      const all = await deps.repository(name, contextOf(res)).tags.list();
      const after = last === undefined ? all : all.filter((t) => t > last);
      const tags = after.slice(0, n);
      const lastTag = tags[tags.length - 1];
      if (explicit && after.length > n && lastTag !== undefined) {
        res.setHeader(Header.Link, nextLink(`/v2/${name}/tags/list`, n, lastTag));
      }
      sendJson(req, res, { name, tags });
    }],
  });
}
