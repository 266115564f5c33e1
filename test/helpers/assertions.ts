import assert from 'node:assert/strict';
import type { RawResponse } from './raw-http.ts';

/** The distribution-spec's 14 error codes; every error body must use one of them. */
export const SPEC_ERROR_CODES: readonly string[] = [
  'BLOB_UNKNOWN',
  'BLOB_UPLOAD_INVALID',
  'BLOB_UPLOAD_UNKNOWN',
  'DIGEST_INVALID',
  'MANIFEST_BLOB_UNKNOWN',
  'MANIFEST_INVALID',
  'MANIFEST_UNKNOWN',
  'NAME_INVALID',
  'NAME_UNKNOWN',
  'SIZE_INVALID',
  'UNAUTHORIZED',
  'DENIED',
  'UNSUPPORTED',
  'TOOMANYREQUESTS',
];

export interface SpecError {
  code: string;
  message: string;
  detail?: unknown;
}

/** Checks that a parsed body is the spec's `{"errors":[{"code","message",...}]}` with known codes. */
export function assertErrorBody(body: unknown, where: string): SpecError[] {
  assert.ok(typeof body === 'object' && body !== null, `${where}: error body is not a JSON object`);
  const errors = (body as { errors?: unknown }).errors;
  assert.ok(Array.isArray(errors) && errors.length > 0, `${where}: error body has no "errors" array: ${JSON.stringify(body)}`);
  for (const e of errors as SpecError[]) {
    assert.ok(SPEC_ERROR_CODES.includes(e.code), `${where}: "${String(e.code)}" is not one of the spec's error codes`);
    assert.equal(typeof e.message, 'string', `${where}: error "${e.code}" has no string message`);
  }
  return errors as SpecError[];
}

/** The operator API's error codes (src/api/admin-error.ts): the same body shape, codes of its own. */
export const ADMIN_ERROR_CODES = [
  'INVALID_PARAMETER', 'INVALID_ENDPOINT', 'ENDPOINT_UNKNOWN', 'EVENT_UNKNOWN', 'ENDPOINT_EXISTS', 'ENDPOINT_READ_ONLY',
  'ENDPOINT_NOT_DRAINED', 'TARGET_FORBIDDEN', 'TOO_LARGE', 'IMPORT_INVALID', 'UNAVAILABLE',
];

/** An operator API error body: `{"errors":[{code, message, detail}]}` with one of its codes, or UNAUTHORIZED/DENIED from auth. */
export function assertAdminErrorBody(body: unknown, where: string): void {
  const errors = (body as { errors?: { code: string; message: unknown }[] } | null)?.errors;
  assert.ok(Array.isArray(errors) && errors.length > 0, `${where}: error body has no "errors" array: ${JSON.stringify(body)}`);
  for (const e of errors) {
    assert.ok([...ADMIN_ERROR_CODES, 'UNAUTHORIZED', 'DENIED'].includes(e.code), `${where}: "${String(e.code)}" is not an operator API error code`);
    assert.equal(typeof e.message, 'string', `${where}: error "${e.code}" has no string message`);
  }
}

/**
 * Asserts a fetch response is an error with `status` whose first error code is `code`
 * (status may be a list of acceptable statuses). Consumes the body. Returns the errors.
 */
export async function expectError(res: Response, status: number | readonly number[], code: string, where = ''): Promise<SpecError[]> {
  const label = `${where || res.url}`;
  const text = await res.text();
  const statuses = typeof status === 'number' ? [status] : status;
  assert.ok(statuses.includes(res.status), `${label}: expected status ${statuses.join('/')}, got ${res.status}: ${text.slice(0, 300)}`);
  assert.match(res.headers.get('content-type') ?? '', /^application\/json/, `${label}: error is not JSON`);
  const errors = assertErrorBody(JSON.parse(text), label);
  assert.equal(errors[0]!.code, code, `${label}: expected ${code}, got ${errors.map((e) => e.code).join(', ')}: ${text.slice(0, 300)}`);
  return errors;
}

/** `expectError` for a response from `rawRequest`. */
export function expectRawError(res: RawResponse, status: number | readonly number[], code: string, where: string): SpecError[] {
  const statuses = typeof status === 'number' ? [status] : status;
  const text = res.body.toString('utf8');
  assert.ok(statuses.includes(res.status), `${where}: expected status ${statuses.join('/')}, got ${res.status}: ${text.slice(0, 300)}`);
  assert.match(String(res.headers['content-type'] ?? ''), /^application\/json/, `${where}: error is not JSON`);
  const errors = assertErrorBody(JSON.parse(text), where);
  assert.equal(errors[0]!.code, code, `${where}: expected ${code}, got ${errors.map((e) => e.code).join(', ')}: ${text.slice(0, 300)}`);
  return errors;
}
