import type { V2Router } from '../v2-router.ts';
import { parseDigest } from '../../oci/digest.ts';
import { MediaType } from '../../oci/media-types.ts';
import type { ApiDeps } from '../deps.ts';
import { Header } from '../headers.ts';
import { contextOf } from '../request-context.ts';
import { nameParam, param, query } from '../params.ts';
import { resource } from '../resource.ts';

/** `GET /v2/<name>/referrers/<digest>`: an OCI index of the manifests whose subject is the digest. */
export function registerReferrerRoutes(router: V2Router, deps: Pick<ApiDeps, 'repository' | 'guards'>): void {
  resource(router, /^\/v2\/(.+)\/referrers\/([^/]+)$/, {
    GET: [deps.guards.pull, async (req, res) => {
      const name = nameParam(req);
      const subject = parseDigest(param(req, 1));
      const artifactType = query(req, 'artifactType');
      const manifests = await deps.repository(name, contextOf(res)).referrers.list(subject, artifactType);
      if (artifactType !== undefined) res.setHeader(Header.OciFiltersApplied, 'artifactType');
      res.setHeader(Header.ContentType, MediaType.OciIndex);
      res.end(Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: MediaType.OciIndex, manifests })));
    }],
  });
}
