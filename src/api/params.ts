import type { IncomingMessage } from 'node:http';
import { parse as parseQuery } from 'node:querystring';
import { RegistryError } from '../oci/errors.ts';
import { parseDigest, type Digest } from '../oci/digest.ts';
import { isTag, parseRepoName, parseTag, type RepoName } from '../oci/names.ts';
import { parseUploadId, type UploadId } from '../storage/layout.ts';
import type { ManifestReference } from '../storage/repository.ts';
import { queryStringOf, type ApiRequest } from './handler.ts';

/** Route parameters come from regex groups: index 0 is always the repository name. */
export function nameParam(req: ApiRequest): RepoName {
  return parseRepoName(param(req, 0));
}

export function param(req: ApiRequest, index: number): string {
  return req.params[index] ?? '';
}

/** A manifest reference to store under: a malformed tag is MANIFEST_INVALID. */
export function referenceParam(value: string): ManifestReference {
  return value.includes(':') ? { digest: parseDigest(value) } : { tag: parseTag(value) };
}

/**
 * A manifest reference to look up (GET, HEAD, DELETE): a tag that cannot exist is simply not
 * there, so it is MANIFEST_UNKNOWN (404), as the conformance suite expects.
 */
export function lookupReferenceParam(value: string): ManifestReference {
  if (value.includes(':')) return { digest: parseDigest(value) };
  if (!isTag(value)) {
    throw new RegistryError('MANIFEST_UNKNOWN', `manifest ${value.slice(0, 200)} is unknown: not a valid tag`, {
      detail: { tag: value.slice(0, 200) },
    });
  }
  return { tag: value };
}

export function uploadIdParam(value: string): UploadId {
  const id = parseUploadId(value);
  if (!id) {
    throw new RegistryError('BLOB_UPLOAD_UNKNOWN', `upload ${value.slice(0, 100)} is unknown`, {
      detail: { uuid: value.slice(0, 100) },
    });
  }
  return id;
}

/**
 * A single-valued query parameter, or undefined. Repeated parameters are refused. Parsed as
 * Express's default (`simple`) query parser does, with node's querystring.
 */
export function query(req: IncomingMessage, key: string): string | undefined {
  const value = parseQuery(queryStringOf(req))[key];
  if (value === undefined) return undefined;
  if (typeof value !== 'string') {
    throw new RegistryError('UNSUPPORTED', `query parameter "${key}" must be given once`, { status: 400, detail: { parameter: key } });
  }
  return value;
}

export function digestQuery(req: IncomingMessage, key: string): Digest | undefined {
  const value = query(req, key);
  return value === undefined ? undefined : parseDigest(value);
}

/** `n` and `last` of the list endpoints. */
export function pagination(req: IncomingMessage, defaultN: number, maxN: number): { n: number; last?: string; explicit: boolean } {
  const rawN = query(req, 'n');
  const last = query(req, 'last');
  if (rawN === undefined) return { n: defaultN, last, explicit: false };
  if (!/^\d{1,9}$/.test(rawN)) {
    throw new RegistryError('UNSUPPORTED', `query parameter "n" must be a non-negative integer, got "${rawN.slice(0, 20)}"`, {
      status: 400,
      detail: { parameter: 'n', value: rawN.slice(0, 20) },
    });
  }
  return { n: Math.min(Number(rawN), maxN), last, explicit: true };
}

/** RFC 8288 link to the next page, as the spec and Distribution write it. */
export function nextLink(path: string, n: number, last: string): string {
  return `<${path}?n=${n}&last=${encodeURIComponent(last)}>; rel="next"`;
}

/** Whether the request carries a body (a chunk, a monolithic blob). */
export function hasBody(req: IncomingMessage): boolean {
  if (req.headers['transfer-encoding'] !== undefined) return true;
  const length = Number(req.headers['content-length'] ?? '0');
  return Number.isFinite(length) && length > 0;
}

export function contentLength(req: IncomingMessage): number | undefined {
  const raw = req.headers['content-length'];
  if (raw === undefined) return undefined;
  const n = Number(raw);
  return Number.isSafeInteger(n) && n >= 0 ? n : undefined;
}

/** An upload chunk's `Content-Range: <start>-<end>` (the spec's form; `bytes ` prefix tolerated). */
export function chunkRange(req: IncomingMessage): { start: number; length: number } | undefined {
  const raw = req.headers['content-range'];
  if (raw === undefined) return undefined;
  const m = /^(?:bytes[ =])?(\d+)-(\d+)(?:\/(?:\d+|\*))?$/.exec(raw.trim());
  if (!m) {
    throw new RegistryError('BLOB_UPLOAD_INVALID', `malformed Content-Range "${raw.slice(0, 100)}": expected <start>-<end>`, {
      detail: { contentRange: raw.slice(0, 100), expected: '<start>-<end>' },
    });
  }
  const start = Number(m[1]);
  const end = Number(m[2]);
  if (!Number.isSafeInteger(start) || !Number.isSafeInteger(end) || end < start) {
    throw new RegistryError('BLOB_UPLOAD_INVALID', `Content-Range "${raw.slice(0, 100)}" is not a valid range`, {
      status: 416,
      detail: { contentRange: raw.slice(0, 100) },
    });
  }
  const length = end - start + 1;
  const declared = contentLength(req);
  if (declared !== undefined && declared !== length) {
    throw new RegistryError('SIZE_INVALID', `Content-Range covers ${length} bytes but Content-Length is ${declared}`, {
      status: 416,
      detail: { contentRange: raw.slice(0, 100), rangeLength: length, contentLength: declared },
    });
  }
  return { start, length };
}

/**
 * A blob GET's `Range: bytes=...`. Returns the one satisfiable range, null for none or a form we
 * serve whole (several ranges), or throws 416 when it cannot be satisfied.
 */
export function byteRange(header: string | undefined, size: number): { start: number; end: number } | null {
  if (header === undefined) return null;
  const m = /^bytes=(\d*)-(\d*)$/.exec(header.trim());
  if (!m || (m[1] === '' && m[2] === '')) return null;
  let start: number;
  let end: number;
  if (m[1] === '') {
    const suffix = Number(m[2]);
    start = Math.max(size - suffix, 0);
    end = size - 1;
    if (suffix === 0) throw unsatisfiable(size, header);
  } else {
    start = Number(m[1]);
    end = m[2] === '' ? size - 1 : Math.min(Number(m[2]), size - 1);
    if (m[2] !== '' && Number(m[2]) < start) return null; // invalid range spec: ignore it (RFC 9110)
  }
  if (start >= size || size === 0) throw unsatisfiable(size, header);
  return { start, end };
}

function unsatisfiable(size: number, range: string): RegistryError {
  return new RegistryError('SIZE_INVALID', `requested range is not satisfiable for a blob of ${size} bytes`, {
    status: 416,
    detail: { range: range.slice(0, 100), size },
    headers: { 'Content-Range': `bytes */${size}` },
  });
}
