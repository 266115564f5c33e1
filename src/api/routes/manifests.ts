import type { ApiRequest, ApiResponse } from '../handler.ts';
import type { V2Router } from '../v2-router.ts';
import { MAX_MANIFEST_BYTES } from '../../oci/manifest.ts';
import type { AcceptedTypes, ManifestInfo } from '../../storage/repository.ts';
import { readSmallBody } from '../body.ts';
import type { ApiDeps } from '../deps.ts';
import { Header } from '../headers.ts';
import { contextOf } from '../request-context.ts';
import { lookupReferenceParam, nameParam, param, referenceParam } from '../params.ts';
import { deletion, location, resource } from '../resource.ts';

export function registerManifestRoutes(router: V2Router, deps: ApiDeps): void {
  resource(router, /^\/v2\/(.+)\/manifests\/([^/]+)$/, {
    GET: [deps.guards.pull, async (req, res) => {
      const repo = deps.repository(nameParam(req), contextOf(res));
      const manifest = await repo.manifests.get(lookupReferenceParam(param(req, 1)), acceptedTypes(req));
      describe(res, manifest);
      res.end(manifest.content);
    }],
    HEAD: [deps.guards.pull, async (req, res) => {
      const repo = deps.repository(nameParam(req), contextOf(res));
      const manifest = await repo.manifests.stat(lookupReferenceParam(param(req, 1)), acceptedTypes(req));
      describe(res, manifest);
      res.end();
    }],
    PUT: [deps.guards.push, async (req, res) => {
      const name = nameParam(req);
      const reference = referenceParam(param(req, 1));
      const body = await readSmallBody(req, MAX_MANIFEST_BYTES, 'MANIFEST_INVALID');
      const repo = deps.repository(name, contextOf(res));
      const result = await repo.manifests.put(reference, body, req.headers['content-type']);
      res.statusCode = 201;
      res.setHeader(Header.Location, location(deps.externalBaseUrl, `/v2/${name}/manifests/${result.digest}`));
      res.setHeader(Header.ContentDigest, result.digest);
      if (result.subject) res.setHeader(Header.OciSubject, result.subject.digest);
      res.setHeader(Header.ContentLength, '0');
      res.end();
    }],
    DELETE: deletion(deps.deleteEnabled, [deps.guards.delete, async (req, res) => {
      const repo = deps.repository(nameParam(req), contextOf(res));
      const reference = lookupReferenceParam(param(req, 1));
      if (reference.tag !== undefined) await repo.tags.delete(reference.tag);
      else await repo.manifests.delete(reference.digest);
      res.statusCode = 202;
      res.setHeader(Header.ContentLength, '0');
      res.end();
    }]),
  });
}

function describe(res: ApiResponse, manifest: ManifestInfo): void {
  res.setHeader(Header.ContentType, manifest.mediaType);
  res.setHeader(Header.ContentLength, String(manifest.size));
  res.setHeader(Header.ContentDigest, manifest.digest);
  res.setHeader(Header.ETag, `"${manifest.digest}"`);
}

/**
 * The manifest types an `Accept` header asks for; undefined (any type) when there is no header,
 * or when it has a wildcard.
 */
function acceptedTypes(req: ApiRequest): AcceptedTypes {
  const header = req.headers.accept;
  if (!header) return undefined;
  const types = header.split(',').map((part) => part.split(';')[0]!.trim().toLowerCase()).filter(Boolean);
  if (types.length === 0 || types.some((t) => t === '*/*' || t === 'application/*')) return undefined;
  return types;
}
