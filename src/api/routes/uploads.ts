import type { ApiRequest, ApiResponse } from '../handler.ts';
import type { V2Router } from '../v2-router.ts';
import { RegistryError } from '../../oci/errors.ts';
import type { Digest } from '../../oci/digest.ts';
import type { RepoName } from '../../oci/names.ts';
import type { UploadStatus } from '../../storage/repository.ts';
import type { ApiDeps } from '../deps.ts';
import { identityOf } from '../guards.ts';
import { mountSource } from '../mount-source.ts';
import { Header } from '../headers.ts';
import { contextOf } from '../request-context.ts';
import { chunkRange, contentLength, digestQuery, hasBody, nameParam, param, query, uploadIdParam } from '../params.ts';
import { location, resource } from '../resource.ts';

/** The upload endpoints: start (or mount, or single-request push), chunks, completion, status, cancel. */
export function registerUploadRoutes(router: V2Router, deps: ApiDeps): void {
  resource(router, /^\/v2\/(.+)\/blobs\/uploads\/?$/, {
    POST: [deps.guards.push, async (req, res) => {
      const name = nameParam(req);
      const repo = deps.repository(name, contextOf(res));
      const mount = digestQuery(req, 'mount');
      if (mount) {
        const from = await mountSource(deps.registry, identityOf(res), mount, query(req, 'from'));
        const mounted = from === undefined ? null : await repo.blobs.mount(mount, from);
        if (mounted) return created(res, deps, name, mounted.digest);
        // Not mountable: fall through to a normal upload session, as the spec says.
      }
      const digest = mount ? undefined : digestQuery(req, 'digest');
      const upload = await repo.uploads.start();
      if (digest) {
        // Single-request (monolithic) push: the body is the whole blob.
        try {
          const blob = await repo.uploads.complete(upload.id, digest, req, { length: contentLength(req) });
          return created(res, deps, name, blob.digest);
        } catch (err) {
          await repo.uploads.cancel(upload.id).catch(() => undefined);
          throw err;
        }
      }
      accepted(res, deps, name, upload);
    }],
  });

  resource(router, /^\/v2\/(.+)\/blobs\/uploads\/([^/]+)$/, {
    GET: [deps.guards.push, async (req, res) => {
      const name = nameParam(req);
      const status = await deps.repository(name, contextOf(res)).uploads.status(uploadIdParam(param(req, 1)));
      accepted(res, deps, name, status, 204);
    }],
    PATCH: [deps.guards.push, async (req, res) => {
      const name = nameParam(req);
      const id = uploadIdParam(param(req, 1));
      const range = chunkRange(req);
      const status = await deps.repository(name, contextOf(res)).uploads.append(id, req, {
        start: range?.start,
        length: range?.length ?? contentLength(req),
      });
      accepted(res, deps, name, status);
    }],
    PUT: [deps.guards.push, async (req, res) => {
      const name = nameParam(req);
      const id = uploadIdParam(param(req, 1));
      const digest = requiredDigest(req);
      const range = chunkRange(req);
      const body = hasBody(req) ? req : null;
      const blob = await deps.repository(name, contextOf(res)).uploads.complete(id, digest, body, {
        start: range?.start,
        length: body ? (range?.length ?? contentLength(req)) : undefined,
      });
      created(res, deps, name, blob.digest);
    }],
    DELETE: [deps.guards.push, async (req, res) => {
      const name = nameParam(req);
      await deps.repository(name, contextOf(res)).uploads.cancel(uploadIdParam(param(req, 1)));
      res.statusCode = 204;
      res.end();
    }],
  });
}

function requiredDigest(req: ApiRequest): Digest {
  const digest = digestQuery(req, 'digest');
  if (!digest) {
    throw new RegistryError('DIGEST_INVALID', 'the "digest" query parameter is required to complete an upload', { detail: { parameter: 'digest' } });
  }
  return digest;
}

function created(res: ApiResponse, deps: ApiDeps, name: RepoName, digest: Digest): void {
  res.statusCode = 201;
  res.setHeader(Header.Location, location(deps.externalBaseUrl, `/v2/${name}/blobs/${digest}`));
  res.setHeader(Header.ContentDigest, digest);
  res.setHeader(Header.ContentLength, '0');
  res.end();
}

function accepted(res: ApiResponse, deps: ApiDeps, name: RepoName, upload: UploadStatus, status = 202): void {
  res.statusCode = status;
  res.setHeader(Header.Location, location(deps.externalBaseUrl, `/v2/${name}/blobs/uploads/${upload.id}`));
  res.setHeader(Header.Range, `0-${Math.max(upload.offset - 1, 0)}`);
  res.setHeader(Header.UploadUuid, upload.id);
  res.setHeader(Header.ContentLength, '0');
  res.end();
}
