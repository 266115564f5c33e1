import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFile, stat } from 'node:fs/promises';
import * as path from 'node:path';
import fc from 'fast-check';
import { assertErrorBody, type SpecError } from '../helpers/assertions.ts';
import { listTree, rawRequest, type RawRequest, type RawResponse } from '../helpers/raw-http.ts';

/**
 * Shared pieces of the hostile-input properties: the grammar oracles (the spec's, written out
 * again here so the registry's own parsers are not checking themselves), the arbitraries, the
 * refusal check and a storage snapshot.
 */

/** Runs per property; `HOSTILE_RUNS=1000` for a longer hunt. */
export const RUNS = Number(process.env.HOSTILE_RUNS ?? 150);
export const property = { numRuns: RUNS, endOnFailure: true, includeErrorInReport: true } as const;

// --- Oracles: the distribution-spec's grammars -------------------------------------------------

const NAME_COMPONENT = '[a-z0-9]+(?:(?:\\.|_|__|-+)[a-z0-9]+)*';
const NAME = new RegExp(`^${NAME_COMPONENT}(?:/${NAME_COMPONENT})*$`);
const TAG = /^[a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}$/;
const DIGEST = /^(?:sha256:[a-f0-9]{64}|sha512:[a-f0-9]{128})$/;

export const isValidName = (name: string): boolean => name.length <= 255 && NAME.test(name);
export const isValidTag = (tag: string): boolean => TAG.test(tag);
export const isValidDigest = (digest: string): boolean => DIGEST.test(digest);

/** What Express hands the route for a raw path segment; null when it cannot be decoded. */
export function decoded(raw: string): string | null {
  try {
    return decodeURIComponent(raw);
  } catch {
    return null;
  }
}

/** Percent-encodes for a path segment, leaving `:` as clients send it in digests. */
export function encodeSegment(value: string): string {
  return encodeURIComponent(value).replace(/%3A/gi, ':');
}

// --- Arbitraries --------------------------------------------------------------------------------

const HEX = '0123456789abcdef';
const hexString = (min: number, max: number) => fc.string({ unit: fc.constantFrom(...HEX), minLength: min, maxLength: max });

/** Raw (already URL-safe) pieces of a repository name, many of them hostile. */
const nameFragment = fc.oneof(
  { weight: 4, arbitrary: fc.constantFrom('a', 'b0', 'lib', 'x9', 'z') },
  {
    weight: 5,
    arbitrary: fc.constantFrom(
      '/', '//', '.', '..', '_', '__', '___', '-', '--', '.-', '%2e', '%2E%2e', '%2e%2e%2f', '%2F', '%2f', '%5c', '%5C',
      '%00', '%20', '%25', '%252e', '%', '%zz', '%ff', '%C3%A9', '%E2%80%AE', 'A', 'Upper', ':', '@', '+', '~', '!', '$',
      '&', "'", '(', ')', '*', ',', ';', '=',
    ),
  },
  // Unicode, spaces, control characters, encoded as a client would.
  { weight: 2, arbitrary: fc
      .oneof(fc.string({ unit: 'grapheme', minLength: 1, maxLength: 3 }), fc.string({ unit: 'binary-ascii', minLength: 1, maxLength: 3 }))
      .map(encodeURIComponent) },
);

/** Raw repository-name path segments: valid and invalid, short, long, unicode, traversal-shaped. */
export const rawName: fc.Arbitrary<string> = fc.oneof(
  { weight: 6, arbitrary: fc.array(nameFragment, { minLength: 1, maxLength: 10 }).map((parts) => parts.join('')) },
  // Around the 255-character limit, in one component or several.
  {
    weight: 2,
    arbitrary: fc
      .tuple(fc.integer({ min: 240, max: 300 }), fc.constantFrom('', '/', 'Q', '%2e', '.'), fc.nat({ max: 250 }))
      .map(([n, insert, at]) => {
        const base = 'a'.repeat(n);
        return `${base.slice(0, at)}${insert}${base.slice(at)}`.replace(/^\//, 'a/');
      }),
  },
  // Spec-valid names, so the property also sees names that must get past the name check.
  { weight: 2, arbitrary: fc.stringMatching(/^[a-z0-9]{1,8}(?:[._-][a-z0-9]{1,8}){0,2}(?:\/[a-z0-9]{1,8}){0,3}$/) },
);

const algorithm = fc.constantFrom('sha256', 'sha512', 'SHA256', 'Sha512', 'sha384', 'sha1', 'md5', 'blake3', 'sha256+b64u', 'sha256.x', 'a-b', '');

/** Digest-shaped strings: right and wrong lengths (short ones above all), case, algorithms and characters. */
export const digestLike: fc.Arbitrary<string> = fc.oneof(
  { weight: 3, arbitrary: fc.tuple(algorithm, fc.oneof(hexString(0, 70), hexString(120, 130))).map(([a, h]) => `${a}:${h}`) },
  // Off by one around the right lengths.
  {
    weight: 3,
    arbitrary: fc
      .tuple(fc.constantFrom('sha256', 'sha512'), fc.constantFrom(-2, -1, 0, 1, 2), fc.constantFrom('lower', 'upper', 'mixed', 'nonhex'))
      .chain(([a, delta, style]) =>
        hexString(Math.max(0, (a === 'sha256' ? 64 : 128) + delta), Math.max(0, (a === 'sha256' ? 64 : 128) + delta)).map((h) => {
          if (style === 'upper') return `${a}:${h.toUpperCase()}`;
          if (style === 'mixed') return `${a}:${h.slice(0, 1).toUpperCase()}${h.slice(1)}`;
          if (style === 'nonhex') return `${a}:${h.slice(0, -1)}g`;
          return `${a}:${h}`;
        }),
      ),
  },
  // Well-formed digests of content no one pushed.
  { weight: 2, arbitrary: fc.oneof(hexString(64, 64).map((h) => `sha256:${h}`), hexString(128, 128).map((h) => `sha512:${h}`)) },
  // Separator games.
  {
    weight: 2,
    arbitrary: fc
      .tuple(hexString(64, 64), fc.constantFrom('sha256::', 'sha256: ', ':', 'sha256:=', 'sha256:-', ' sha256:', 'sha256%3a', 'sha256:sha256:'))
      .map(([h, prefix]) => `${prefix}${h}`),
  },
);

/** Manifest references: tags valid and invalid (too long, bad first character, unicode) and digest-like strings. */
export const referenceLike: fc.Arbitrary<string> = fc.oneof(
  { weight: 3, arbitrary: digestLike },
  { weight: 2, arbitrary: fc.stringMatching(/^[a-zA-Z0-9_][a-zA-Z0-9._-]{0,20}$/) },
  { weight: 1, arbitrary: fc.integer({ min: 126, max: 132 }).map((n) => 't'.repeat(n)) },
  { weight: 3, arbitrary: fc.string({ unit: fc.constantFrom('a', 'Z', '0', '.', '-', '_', '/', '\\', '@', '+', '%', ' ', 'é', '\u0000', '\u202e', '日'), minLength: 1, maxLength: 12 }) },
).filter((r) => r.length > 0 && r !== 'uploads' && r !== '.' && r !== '..');

// --- Checks -------------------------------------------------------------------------------------

/** Sends one request; a registry that does not answer within the timeout fails the property (a hang). */
export function send(base: string, req: RawRequest): Promise<RawResponse> {
  return rawRequest(base, req, 5_000);
}

/**
 * A refusal as the spec wants it: a 4xx (never 5xx), a JSON `{"errors":[...]}` body with the spec's
 * codes, each error with a `detail`. HEAD answers carry no body, so only their status is checked.
 */
export function assertRefused(
  res: RawResponse,
  where: string,
  expected: { codes?: readonly string[]; statuses?: readonly number[]; method?: string } = {},
): SpecError[] {
  const text = res.body.toString('utf8');
  assert.ok(res.status >= 400 && res.status < 500, `${where}: expected a 4xx, got ${res.status}: ${text.slice(0, 300)}`);
  if (expected.statuses) assert.ok(expected.statuses.includes(res.status), `${where}: expected ${expected.statuses.join('/')}, got ${res.status}: ${text.slice(0, 300)}`);
  if (expected.method === 'HEAD') {
    assert.equal(res.body.length, 0, `${where}: a HEAD answer has a body`);
    return [];
  }
  assert.match(String(res.headers['content-type'] ?? ''), /^application\/json/, `${where}: error is not JSON: ${text.slice(0, 200)}`);
  const errors = assertErrorBody(JSON.parse(text), where);
  for (const e of errors) assert.ok(e.detail !== undefined, `${where}: error ${e.code} has no detail: ${text.slice(0, 300)}`);
  if (expected.codes) assert.ok(expected.codes.includes(errors[0]!.code), `${where}: expected ${expected.codes.join('/')}, got ${errors[0]!.code}: ${text.slice(0, 300)}`);
  return errors;
}

/** Describes a request in a failure message, shortened. */
export function label(req: RawRequest): string {
  return `${req.method ?? 'GET'} ${req.path.slice(0, 160)}${req.path.length > 160 ? '…' : ''}`;
}

// --- Storage snapshots ----------------------------------------------------------------------------

/**
 * Every path under the storage root with a hash of its content (files) or `dir`, leaving out the
 * notifications outbox, which reads may write to. A refused request must leave this unchanged.
 */
export async function snapshot(root: string, ignore: (rel: string) => boolean = () => false): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  for (const rel of await listTree(root, 100_000)) {
    if (rel.startsWith('_notifications') || ignore(rel)) continue;
    const full = path.join(root, rel);
    const info = await stat(full).catch(() => null);
    if (!info) continue; // removed while walking
    out.set(rel, info.isDirectory() ? 'dir' : await contentHash(full, `${info.ino}:${info.size}:${info.mtimeMs}`));
  }
  return out;
}

/** Content hashes by file identity (inode, size, mtime): a store only grows, so most files are hashed once. */
const hashes = new Map<string, { key: string; hash: string }>();

async function contentHash(full: string, key: string): Promise<string> {
  const known = hashes.get(full);
  if (known?.key === key) return known.hash;
  const hash = createHash('sha256').update(await readFile(full)).digest('hex').slice(0, 16);
  hashes.set(full, { key, hash });
  return hash;
}

/** Asserts two snapshots are the same, naming what was added, removed or changed. */
export function assertSameStore(before: Map<string, string>, after: Map<string, string>, where: string): void {
  const added = [...after.keys()].filter((k) => !before.has(k));
  const removed = [...before.keys()].filter((k) => !after.has(k));
  const changed = [...after.keys()].filter((k) => before.has(k) && before.get(k) !== after.get(k));
  assert.deepEqual({ added, removed, changed }, { added: [], removed: [], changed: [] }, `${where}: a refused request changed the store`);
}

// --- Manifests: faults that make a manifest invalid, whatever else it holds -----------------------

type Json = Record<string, unknown>;

/** A refused manifest push: the body, its Content-Type and the codes the spec allows for it. */
export interface HostileManifest {
  what: string;
  body: string;
  contentType: string;
  codes: readonly string[];
}

const MANIFEST_TYPES = [
  'application/vnd.oci.image.manifest.v1+json',
  'application/vnd.oci.image.index.v1+json',
  'application/vnd.docker.distribution.manifest.v2+json',
  'application/vnd.docker.distribution.manifest.list.v2+json',
];
const GENERIC_TYPES = ['', 'application/json', 'application/octet-stream'];

const nonString = fc.oneof(
  fc.integer(),
  fc.boolean(),
  fc.constant(null),
  fc.array(fc.integer(), { maxLength: 2 }),
  fc.dictionary(fc.string({ maxLength: 3 }), fc.integer(), { maxKeys: 2 }),
);
const notAnObject = fc.oneof(fc.integer(), fc.string({ maxLength: 5 }), fc.boolean(), fc.constant(null), fc.array(fc.jsonValue({ maxDepth: 1 }), { maxLength: 3 }));
const notAnArray = fc.oneof(fc.integer(), fc.string({ maxLength: 5 }), fc.boolean(), fc.constant(null), fc.dictionary(fc.string({ maxLength: 3 }), fc.integer(), { maxKeys: 2 }));
/** Sizes a descriptor cannot have: negative, fractional, beyond 2^53, or not numbers at all. */
const notASize = fc.oneof(
  fc.integer({ min: -1_000_000, max: -1 }),
  fc.double({ noNaN: true, noDefaultInfinity: true }).filter((d) => !Number.isInteger(d)),
  fc.constantFrom(2 ** 53, 2 ** 60, 1e300, Number.MAX_VALUE),
  fc.string({ maxLength: 4 }),
  fc.constantFrom(null, true, '12', [1]),
);
const badAnnotations = fc.oneof(notAnObject, fc.dictionary(fc.string({ maxLength: 5 }), nonString, { minKeys: 1, maxKeys: 3 }));
const badDigest = fc.oneof(digestLike.filter((d) => !isValidDigest(d)), nonString);

/** A fault in one descriptor: a required field missing or of the wrong type, or a field the schema refuses. */
const descriptorFault: fc.Arbitrary<{ field: string; value?: unknown; remove?: true }> = fc.oneof(
  fc.constantFrom('mediaType', 'digest', 'size').map((field) => ({ field, remove: true as const })),
  fc.oneof(fc.constant(''), nonString).map((value) => ({ field: 'mediaType', value })),
  badDigest.map((value) => ({ field: 'digest', value })),
  notASize.map((value) => ({ field: 'size', value })),
  notAnObject.map((value) => ({ field: 'platform', value })),
  badAnnotations.map((value) => ({ field: 'annotations', value })),
  fc.oneof(notAnArray, fc.array(nonString, { minLength: 1, maxLength: 2 })).map((value) => ({ field: 'urls', value })),
  nonString.map((value) => ({ field: 'artifactType', value })),
);

function at(json: Json, where: (string | number)[]): Json {
  let node: unknown = json;
  for (const key of where) node = (node as Record<string | number, unknown>)[key];
  return node as Json;
}

/**
 * Invalid manifests made from a valid one (`base`, pushed with `mediaType`): one fault that alone
 * makes it invalid, plus harmless noise (unknown fields the schema ignores).
 */
export function hostileManifest(base: Json, mediaType: string, descriptors: (string | number)[][]): fc.Arbitrary<HostileManifest> {
  const isIndex = Array.isArray(base.manifests);
  const json = (what: string, change: (j: Json) => void, codes: readonly string[] = ['MANIFEST_INVALID'], contentType = mediaType) => ({ what, change, codes, contentType });
  const required = isIndex ? ['schemaVersion', 'manifests'] : ['schemaVersion', 'config', 'layers'];
  const faults = fc.oneof(
    // Top-level fields.
    fc.constantFrom(...required).map((k) => json(`no ${k}`, (j) => delete j[k])),
    fc.jsonValue({ maxDepth: 1 }).filter((v) => v !== 2).map((v) => json(`schemaVersion ${JSON.stringify(v)}`, (j) => { j.schemaVersion = v; })),
    fc.oneof(notAnArray, fc.array(fc.jsonValue({ maxDepth: 1 }), { minLength: 1, maxLength: 3 })).map((v) =>
      json(`${isIndex ? 'manifests' : 'layers'} ${JSON.stringify(v).slice(0, 40)}`, (j) => { j[isIndex ? 'manifests' : 'layers'] = v; })),
    fc.oneof(notAnObject, fc.dictionary(fc.string({ maxLength: 4 }), fc.jsonValue({ maxDepth: 1 }), { maxKeys: 3 })).map((v) =>
      json(`${isIndex ? 'subject' : 'config'} ${JSON.stringify(v).slice(0, 40)}`, (j) => { j[isIndex ? 'subject' : 'config'] = v; })),
    badAnnotations.map((v) => json(`annotations ${JSON.stringify(v).slice(0, 40)}`, (j) => { j.annotations = v; })),
    nonString.map((v) => json(`mediaType field ${JSON.stringify(v)}`, (j) => { j.mediaType = v; })),
    nonString.map((v) => json(`artifactType ${JSON.stringify(v)}`, (j) => { j.artifactType = v; })),
    // One descriptor (or a subject added for the purpose) with a fault.
    fc.tuple(fc.constantFrom(...descriptors, ['subject']), descriptorFault).map(([where, fault]) =>
      json(`${where.join('.')}.${fault.field} ${fault.remove ? 'removed' : JSON.stringify(fault.value)?.slice(0, 40)}`, (j) => {
        if (where[0] === 'subject') j.subject = { mediaType: MANIFEST_TYPES[0], digest: `sha256:${'5'.repeat(64)}`, size: 10 };
        const d = at(j, where);
        if (fault.remove) delete d[fault.field];
        else d[fault.field] = fault.value;
      })),
    // A well-formed digest of something the repository does not hold.
    fc.tuple(fc.constantFrom(...descriptors), hexString(64, 64)).map(([where, hex]) =>
      json(`${where.join('.')} unknown`, (j) => { at(j, where).digest = `sha256:${hex}`; }, ['MANIFEST_BLOB_UNKNOWN'])),
    // The mediaType field against the Content-Type.
    fc.constantFrom(...MANIFEST_TYPES.filter((t) => t !== mediaType)).map((t) =>
      json(`sent as ${t}, declaring ${mediaType}`, (j) => { j.mediaType = mediaType; }, ['MANIFEST_INVALID'], t)),
    // Image and index schemas differ: without the field, the other kind's Content-Type cannot fit.
    fc.constantFrom(...MANIFEST_TYPES.filter((t) => t.includes('index') || t.includes('list') ? !isIndex : isIndex)).map((t) =>
      json(`sent as ${t} without a mediaType field`, (j) => { delete j.mediaType; }, ['MANIFEST_INVALID'], t)),
    fc.constantFrom(...GENERIC_TYPES).map((t) => json(`generic ${JSON.stringify(t)} without a mediaType field`, (j) => { delete j.mediaType; }, ['MANIFEST_INVALID'], t)),
    fc
      .oneof(
        fc.constantFrom('text/plain', 'application/vnd.oci.image.config.v1+json', 'application/vnd.docker.distribution.manifest.v1+prettyjws', 'multipart/form-data; boundary=x', ';;;text/plain', 'application/vnd.oci.image.manifest.v2+json'),
        fc.stringMatching(/^[a-z]{1,8}\/[a-z0-9.+-]{1,20}$/),
      )
      .filter((t) => {
        const bare = t.split(';')[0]!.trim().toLowerCase();
        return !MANIFEST_TYPES.includes(bare) && !GENERIC_TYPES.includes(bare);
      })
      .map((t) => json(`sent as ${t}`, () => undefined, ['MANIFEST_INVALID'], t)),
  );
  const noise = fc.dictionary(fc.stringMatching(/^x-[a-z]{1,6}$/), fc.jsonValue({ maxDepth: 2 }), { maxKeys: 2 });
  const structural = fc.tuple(faults, noise).map(([f, extra]): HostileManifest => {
    const j = structuredClone(base);
    Object.assign(j, extra);
    f.change(j);
    return { what: f.what, body: JSON.stringify(j), contentType: f.contentType, codes: f.codes };
  });
  const text = JSON.stringify(base);
  const textual = fc.oneof(
    fc.nat({ max: text.length - 1 }).map((n) => ({ what: `truncated at ${n}`, body: text.slice(0, n) })),
    fc.nat({ max: text.length - 1 }).map((n) => ({ what: `NUL at ${n}`, body: `${text.slice(0, n)}\u0000${text.slice(n)}` })),
    fc.constantFrom(
      { what: 'size 1e400', body: text.replace(/"size":\d+/, '"size":1e400') },
      { what: 'size 1.5', body: text.replace(/"size":\d+/, '"size":1.5') },
      { what: 'a BOM', body: `\ufeff${text}` },
      { what: 'schemaVersion repeated, the last one wrong', body: `${text.slice(0, -1)},"schemaVersion":1}` },
      { what: 'trailing garbage', body: `${text}x` },
      { what: 'two documents', body: `${text}${text}` },
      { what: 'single quotes', body: text.replace(/"/g, "'") },
    ),
  ).map((t): HostileManifest => ({ ...t, contentType: mediaType, codes: ['MANIFEST_INVALID'] }));
  const random = fc.tuple(fc.jsonValue(), fc.constantFrom(...MANIFEST_TYPES)).map(([v, contentType]): HostileManifest => ({
    what: 'a random JSON value',
    body: JSON.stringify(v) ?? 'null',
    contentType,
    codes: ['MANIFEST_INVALID'],
  }));
  return fc.oneof({ weight: 6, arbitrary: structural }, { weight: 2, arbitrary: textual }, { weight: 1, arbitrary: random });
}
