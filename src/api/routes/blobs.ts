import type { ApiResponse } from '../handler.ts';
import type { V2Router } from '../v2-router.ts';
import { pipeline } from 'node:stream/promises';
import { parseDigest } from '../../oci/digest.ts';
import type { BlobInfo } from '../../storage/repository.ts';
import type { ApiDeps } from '../deps.ts';
import { Header } from '../headers.ts';
import { contextOf } from '../request-context.ts';
import { byteRange, nameParam, param } from '../params.ts';
import { deletion, resource } from '../resource.ts';

export function registerBlobRoutes(router: V2Router, deps: ApiDeps): void {
  resource(router, /^\/v2\/(.+)\/blobs\/([^/]+)$/, {
    GET: [deps.guards.pull, async (req, res) => {
      const repo = deps.repository(nameParam(req), contextOf(res));
      const digest = parseDigest(param(req, 1));
      const located = deps.redirect ? await repo.blobs.locate(digest) : null;
      if (located) {
        // As Distribution: the client fetches the bytes from the storage itself (a Range too).
        res.statusCode = 307;
      res.setHeader(Header.Location, located.url);
        res.setHeader(Header.ContentDigest, located.info.digest);
        res.setHeader(Header.ContentLength, '0');
        res.end();
        return;
      }
      const { info, stream, range } = await repo.blobs.open(digest, (size) => byteRange(req.headers.range, size));
      describe(res, info);
      if (range) {
        res.statusCode = 206;
        res.setHeader(Header.ContentRange, `bytes ${range.start}-${range.end}/${info.size}`);
        res.setHeader(Header.ContentLength, String(range.end - range.start + 1));
      }
      try {
        await pipeline(stream, res);
      } catch {
        // The client went away mid-body; nothing more can be sent on this response.
        res.destroy();
      }
    }],
    HEAD: [deps.guards.pull, async (req, res) => {
      const repo = deps.repository(nameParam(req), contextOf(res));
      describe(res, await repo.blobs.stat(parseDigest(param(req, 1))));
      res.end();
    }],
    DELETE: deletion(deps.deleteEnabled, [deps.guards.delete, async (req, res) => {
      const repo = deps.repository(nameParam(req), contextOf(res));
      await repo.blobs.delete(parseDigest(param(req, 1)));
      res.statusCode = 202;
      res.setHeader(Header.ContentLength, '0');
      res.end();
    }]),
  });
}

function describe(res: ApiResponse, info: BlobInfo): void {
  res.setHeader(Header.ContentType, info.mediaType);
  res.setHeader(Header.ContentLength, String(info.size));
  res.setHeader(Header.ContentDigest, info.digest);
  res.setHeader(Header.AcceptRanges, 'bytes');
  res.setHeader(Header.ETag, `"${info.digest}"`);
}
