import type { ErrorRequestHandler, Request, Response, Router } from 'express';
import multer from 'multer';
import * as path from 'node:path';
import { importArchive, type ImportResult } from '../../import/image-import.ts';
import { isArchiveError } from '../../import/archive-error.ts';
import { Spool } from '../../import/spool.ts';
import { isRegistryError, RegistryError } from '../../oci/errors.ts';
import { isTag, parseRepoName, type RepoName, type Tag } from '../../oci/names.ts';
import { AdminError } from '../admin-error.ts';
import type { ApiDeps } from '../deps.ts';
import { Header } from '../headers.ts';
import { contextOf } from '../request-context.ts';
import { location } from '../resource.ts';

const FIELD_LIMITS = { fields: 4, fieldSize: 1024, files: 1, parts: 5, fieldNameSize: 100 } as const;
const SPOOLED_NAME = 'archive';
/**
 * A refusal before the body is read (401, 403, read-only) waits for this much of it to arrive and
 * be dropped, so that a browser or fetch still sending a small archive gets the answer rather than
 * a reset; beyond it the connection is closed, as an anonymous caller may not make us read more.
 */
const REFUSAL_DRAIN_BYTES = 4 * 1024 * 1024;
const REFUSAL_DRAIN_MS = 5_000;

/**
 * `POST /ui/import`: an image archive (OCI image layout or `docker save` tarball, gzip'd or not)
 * uploaded in a form (`repository`, `tag`, file `archive`), spooled to disk, then pushed into
 * the repository through the request's notifier-decorated repository, as a client's push would
 * be (same code path, same events, the admin as actor). Operator API: `adminOnly`, its errors.
 * Only HTTP is here; the archive formats are src/import's.
 *
 * An archive over the limit stops being written at the limit, but the rest of the body is read
 * (and dropped) before the 413: a client still sending when the connection closes sees a reset
 * (EPIPE), not the answer, and browsers behave the same. Only an admin gets that far: the guard
 * runs before the body is read.
 */
export function registerImageImportRoutes(router: Router, deps: ApiDeps): void {
  const { maxBytes, spoolDir } = deps.ui.import;
  const spool = new Spool(spoolDir);

  router.post('/ui/import', deps.guards.admin, async (req: Request, res: Response) => {
    if (deps.readOnly) {
      throw new RegistryError('UNSUPPORTED', 'the registry is in read-only mode (storage.maintenance.readonly.enabled: true)', {
        detail: { method: req.method, setting: 'storage.maintenance.readonly.enabled' },
      });
    }
    const upload = await spool.open();
    let name: RepoName;
    let result: ImportResult;
    try {
      const file = await receiveArchive(req, res, upload.dir, maxBytes);
      name = repositoryField(req.body);
      const tag = tagField(req.body);
      result = await importArchive(file, deps.repository(name, contextOf(res)), { tag }).catch((err: unknown) => {
        if (isArchiveError(err)) throw new AdminError('IMPORT_INVALID', err.message, err.detail);
        throw err;
      });
    } finally {
      await upload.remove(); // before the answer, whatever it is: a client that sees it sees the spool empty
    }
    res.status(201);
    res.setHeader(Header.Location, location(deps.externalBaseUrl, `/v2/${name}/manifests/${result.digest}`));
    res.setHeader(Header.ContentDigest, result.digest);
    res.json({
      repository: name,
      tag: result.tag,
      digest: result.digest,
      mediaType: result.mediaType,
      format: result.format,
      blobsPushed: result.blobsPushed,
      bytesPushed: result.bytesPushed,
      blobsPresent: result.blobsPresent,
      manifestsPushed: result.manifestsPushed,
    });
  }, drainBeforeRefusal);
}

/** Route-level error handler: reads (and drops) a little of an unread body, then passes the error on. */
const drainBeforeRefusal: ErrorRequestHandler = (err, req, _res, next) => {
  if (req.complete || req.destroyed) return next(err);
  let seen = 0;
  const done = () => {
    clearTimeout(timer);
    req.off('data', count).off('end', done).off('error', done).off('close', done);
    next(err);
  };
  const count = (chunk: Buffer) => {
    seen += chunk.length;
    if (seen > REFUSAL_DRAIN_BYTES) done(); // the renderer closes the connection on an unread body
  };
  const timer = setTimeout(done, REFUSAL_DRAIN_MS);
  req.on('data', count).once('end', done).once('error', done).once('close', done);
};

/** Parses the multipart body, the archive streamed into `dir`; returns the spooled file. */
async function receiveArchive(req: Request, res: Response, dir: string, maxBytes: number): Promise<string> {
  const parse = multer({
    storage: multer.diskStorage({ destination: dir, filename: (_req, _file, cb) => cb(null, SPOOLED_NAME) }),
    limits: { ...FIELD_LIMITS, fileSize: maxBytes },
  }).single('archive');
  await new Promise<void>((resolve, reject) => parse(req, res, (err?: unknown) => (err ? reject(uploadError(err, maxBytes)) : resolve())));
  if (!req.file) {
    throw new AdminError('INVALID_PARAMETER', 'a multipart/form-data body with the file field "archive" is required', {
      field: 'archive',
      contentType: (req.headers['content-type'] ?? '').slice(0, 100),
    });
  }
  return path.join(dir, SPOOLED_NAME);
}

function uploadError(err: unknown, maxBytes: number): unknown {
  if (!(err instanceof multer.MulterError)) {
    // busboy's complaints about a malformed body ("Unexpected end of form", a bad boundary).
    if (err instanceof Error && !(err as NodeJS.ErrnoException).syscall) {
      return new AdminError('INVALID_PARAMETER', `the multipart body cannot be read: ${err.message.slice(0, 200)}`, { reason: err.message.slice(0, 200) });
    }
    return err;
  }
  if (err.code === 'LIMIT_FILE_SIZE') return tooLarge(maxBytes);
  return new AdminError('INVALID_PARAMETER', `${err.message}${err.field ? ` (field "${err.field.slice(0, 100)}")` : ''}`, {
    reason: err.code,
    ...(err.field ? { field: err.field.slice(0, 100) } : {}),
    expected: { fields: ['repository', 'tag'], file: 'archive' },
  });
}

function tooLarge(maxBytes: number): AdminError {
  return new AdminError('TOO_LARGE', `the archive is larger than ui.import.maxsize (${maxBytes} bytes)`, { limit: maxBytes, setting: 'ui.import.maxsize' });
}

/** The repository named the way the /v2/ API names them (the same parser). */
function repositoryField(body: Record<string, unknown>): RepoName {
  const value = body.repository;
  if (typeof value !== 'string' || value === '') {
    throw new AdminError('INVALID_PARAMETER', 'the form field "repository" is required', { field: 'repository' });
  }
  try {
    return parseRepoName(value);
  } catch (err) {
    if (!isRegistryError(err)) throw err;
    throw new AdminError('INVALID_PARAMETER', `repository: ${err.message}`, { field: 'repository', value: value.slice(0, 300) });
  }
}

/** The optional tag; empty is none (the archive's name for the image, else `latest`). */
function tagField(body: Record<string, unknown>): Tag | null {
  const value = body.tag;
  if (value === undefined || value === '') return null;
  if (typeof value !== 'string' || !isTag(value)) {
    throw new AdminError('INVALID_PARAMETER', 'tag: not a valid tag (up to 128 letters, digits, "_", "." or "-", not starting with "." or "-")', {
      field: 'tag',
      value: String(value).slice(0, 200),
    });
  }
  return value;
}
