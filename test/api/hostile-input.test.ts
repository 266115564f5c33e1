import assert from 'node:assert/strict';
import { randomBytes, randomUUID } from 'node:crypto';
import { before, describe, it } from 'node:test';
import fc from 'fast-check';
import { MediaTypes, dockerImage, imageIndex, manifestDescriptor, ociImage, sha256, type ImageFixture } from '../helpers/oci.ts';
import type { RawRequest } from '../helpers/raw-http.ts';
import { useTestRegistry } from '../helpers/registry.ts';
import {
  RUNS,
  assertRefused,
  assertSameStore,
  decoded,
  digestLike,
  encodeSegment,
  isValidDigest,
  isValidName,
  isValidTag,
  hostileManifest,
  label,
  property,
  rawName,
  referenceLike,
  send,
  snapshot,
} from './hostile-support.ts';

/**
 * Hostile input, property-based: whatever a client sends as a name, a reference, a digest, a
 * Content-Range, a Range or a manifest, a request the registry refuses gets a 4xx (never a 5xx,
 * never a hang) with the spec's error body, one of its 14 codes and a `detail`, and leaves the
 * storage directory exactly as it was. The grammars are the spec's, written out again in
 * hostile-support.ts, so the expected code is known for every input. Complements fuzz.test.ts,
 * which replays a fixed table of crafted requests.
 */

const OCI = { 'content-type': MediaTypes.ociManifest };

describe(`hostile repository names (${RUNS} runs)`, () => {
  const h = useTestRegistry();
  before(async () => {
    await h.client.pushImage('hi/app', 'v1', ociImage({ layers: 1 }));
  });

  const absent = sha256('nothing was pushed with this content');
  /** Endpoints and the codes a spec-valid name (of a repository that does not exist) gets on them. */
  const endpoints: { method: string; suffix: string; body?: string; headers?: RawRequest['headers']; valid: string[] | null }[] = [
    { method: 'GET', suffix: '/manifests/latest', valid: ['NAME_UNKNOWN', 'MANIFEST_UNKNOWN'] },
    { method: 'HEAD', suffix: '/manifests/latest', valid: ['NAME_UNKNOWN', 'MANIFEST_UNKNOWN'] },
    { method: 'PUT', suffix: '/manifests/latest', body: '{}', headers: OCI, valid: ['MANIFEST_INVALID'] },
    { method: 'DELETE', suffix: `/manifests/${absent}`, valid: ['NAME_UNKNOWN', 'MANIFEST_UNKNOWN'] },
    { method: 'DELETE', suffix: '/manifests/latest', valid: ['NAME_UNKNOWN', 'MANIFEST_UNKNOWN'] },
    { method: 'GET', suffix: `/blobs/${absent}`, valid: ['NAME_UNKNOWN', 'BLOB_UNKNOWN'] },
    { method: 'DELETE', suffix: `/blobs/${absent}`, valid: ['NAME_UNKNOWN', 'BLOB_UNKNOWN'] },
    { method: 'POST', suffix: '/blobs/uploads/?digest=sha256:abc', body: 'x', valid: ['DIGEST_INVALID'] },
    { method: 'POST', suffix: '/blobs/uploads/?mount=sha256:abc&from=hi/app', valid: ['DIGEST_INVALID'] },
    // A valid name would start a session here: only invalid names are sent.
    { method: 'POST', suffix: '/blobs/uploads/', valid: null },
    { method: 'PATCH', suffix: `/blobs/uploads/${randomUUID()}`, body: 'abc', valid: ['BLOB_UPLOAD_UNKNOWN'] },
    { method: 'GET', suffix: '/tags/list', valid: ['NAME_UNKNOWN'] },
    { method: 'GET', suffix: '/referrers/sha256:abc', valid: ['DIGEST_INVALID'] },
  ];

  it('refuses every name outside the spec grammar with 400 NAME_INVALID and a detail, on every endpoint, and stores nothing', async () => {
    await fc.assert(
      fc.asyncProperty(rawName, fc.constantFrom(...endpoints), async (raw, e) => {
        const name = decoded(raw);
        const valid = name !== null && isValidName(name);
        fc.pre(!(valid && e.valid === null));
        const req: RawRequest = { method: e.method, path: `/v2/${raw}${e.suffix}`, headers: e.headers, body: e.body };
        const where = `${label(req)} (name ${JSON.stringify(name)})`;
        const before_ = await snapshot(h.registry.root);
        const res = await send(h.registry.url, req);
        if (name === null) {
          // Not even percent-decodable: refused before any route sees it.
          assertRefused(res, where, { statuses: [400], method: e.method });
        } else if (valid) {
          assertRefused(res, where, { codes: e.valid!, method: e.method });
        } else {
          assertRefused(res, where, { codes: ['NAME_INVALID'], statuses: [400], method: e.method });
        }
        assertSameStore(before_, await snapshot(h.registry.root), where);
      }),
      property,
    );
  });
});

describe(`hostile mount sources (${RUNS} runs)`, () => {
  const h = useTestRegistry();
  let image: ImageFixture;
  before(async () => {
    image = await h.client.pushImage('hi/src', 'v1', ociImage({ layers: 1 }));
  });

  it('refuses a mount whose from= is not a repository name with 400 NAME_INVALID, and mounts nothing', async () => {
    const names = rawName.map(decoded).filter((n): n is string => n !== null && n !== 'hi/src');
    await fc.assert(
      fc.asyncProperty(names, async (from) => {
        const req: RawRequest = { method: 'POST', path: `/v2/hi/dst/blobs/uploads/?mount=${image.layers[0]!.digest}&from=${encodeURIComponent(from)}` };
        const where = `${label(req)} (from ${JSON.stringify(from)})`;
        const before_ = await snapshot(h.registry.root);
        const res = await send(h.registry.url, req);
        if (isValidName(from)) {
          // A repository that does not hold the blob: an ordinary session, which the test cancels.
          assert.equal(res.status, 202, `${where}: ${res.body.toString('utf8').slice(0, 200)}`);
          const cancelled = await send(h.registry.url, { method: 'DELETE', path: new URL(String(res.headers.location), 'http://x').pathname });
          assert.equal(cancelled.status, 204, where);
          const dst = (rel: string) => rel === 'docker/registry/v2/repositories/hi/dst' || rel.startsWith('docker/registry/v2/repositories/hi/dst/_uploads');
          assertSameStore(new Map([...before_].filter(([k]) => !dst(k))), await snapshot(h.registry.root, dst), where);
        } else {
          assertRefused(res, where, { codes: ['NAME_INVALID'], statuses: [400] });
          assertSameStore(before_, await snapshot(h.registry.root), where);
        }
      }),
      property,
    );
  });
});

describe(`hostile references and digests (${RUNS} runs)`, () => {
  const h = useTestRegistry();
  let image: ImageFixture;
  /** A manifest whose layer was never pushed: whatever reference it goes to, it is refused. */
  const orphan = ociImage({ layers: 1 });
  before(async () => {
    image = await h.client.pushImage('hi/ref', 'v1', ociImage({ layers: 1 }));
  });

  const expectations = (ref: string, method: string, resource: 'manifests' | 'blobs' | 'referrers'): { codes: string[]; status?: number } => {
    const digestShaped = ref.includes(':');
    if (resource !== 'manifests' || digestShaped) {
      if (!isValidDigest(ref)) return { codes: ['DIGEST_INVALID'], status: 400 };
      if (resource === 'referrers') return { codes: [], status: 200 };
      if (resource === 'blobs') return { codes: ['BLOB_UNKNOWN'], status: 404 };
      // A manifest PUT by a digest the body does not have.
      return method === 'PUT' ? { codes: ['DIGEST_INVALID'], status: 400 } : { codes: ['MANIFEST_UNKNOWN'], status: 404 };
    }
    if (method === 'PUT') return isValidTag(ref) ? { codes: ['MANIFEST_BLOB_UNKNOWN'], status: 404 } : { codes: ['MANIFEST_INVALID'], status: 400 };
    // A tag that cannot exist is simply not there.
    return { codes: ['MANIFEST_UNKNOWN'], status: 404 };
  };

  const endpoint = fc.constantFrom(
    ['GET', 'manifests'],
    ['HEAD', 'manifests'],
    ['DELETE', 'manifests'],
    ['PUT', 'manifests'],
    ['GET', 'blobs'],
    ['HEAD', 'blobs'],
    ['DELETE', 'blobs'],
    ['GET', 'referrers'],
  ) as fc.Arbitrary<[string, 'manifests' | 'blobs' | 'referrers']>;

  it('answers every reference with the spec code its grammar calls for, with a detail, and changes nothing', async () => {
    await fc.assert(
      fc.asyncProperty(referenceLike.filter((r) => r !== 'v1' && r !== image.digest), endpoint, async (ref, [method, resource]) => {
        const req: RawRequest = { method, path: `/v2/hi/ref/${resource}/${encodeSegment(ref)}` };
        if (method === 'PUT') Object.assign(req, { headers: OCI, body: orphan.manifest });
        const where = `${label(req)} (reference ${JSON.stringify(ref)})`;
        const expected = expectations(ref, method, resource);
        const before_ = await snapshot(h.registry.root);
        const res = await send(h.registry.url, req);
        if (expected.status === 200) assert.equal(res.status, 200, `${where}: ${res.body.toString('utf8').slice(0, 200)}`);
        else assertRefused(res, where, { codes: expected.codes, statuses: [expected.status!], method });
        assertSameStore(before_, await snapshot(h.registry.root), where);
      }),
      property,
    );
  });

  it('refuses every malformed or mismatching ?digest= of an upload, and keeps the session as it was', async () => {
    const location = new URL(await h.client.startUpload('hi/ref'), 'http://x').pathname;
    const data = Buffer.from('the bytes of the session');
    assert.equal((await h.client.patchChunk(location, data, 0)).status, 202);
    await fc.assert(
      fc.asyncProperty(digestLike.filter((d) => d !== sha256(data)), fc.boolean(), async (digest, withBody) => {
        const req: RawRequest = { method: 'PUT', path: `${location}?digest=${encodeURIComponent(digest)}` };
        if (withBody) Object.assign(req, { body: 'more', headers: { 'content-type': 'application/octet-stream' } });
        const where = `${label(req)} (digest ${JSON.stringify(digest)})`;
        const before_ = await snapshot(h.registry.root);
        const res = await send(h.registry.url, req);
        assertRefused(res, where, { codes: ['DIGEST_INVALID'], statuses: [400] });
        assertSameStore(before_, await snapshot(h.registry.root), where);
      }),
      property,
    );
    // The session survived every refusal whole: it completes with its real digest.
    const done = await h.client.fetch(`${location}?digest=${sha256(data)}`, { method: 'PUT' });
    assert.equal(done.status, 201, await done.text());
  });

  it('refuses a malformed ?digest= or ?mount= on POST, and a monolithic push that does not match leaves nothing behind', async () => {
    await fc.assert(
      fc.asyncProperty(digestLike, fc.constantFrom('digest', 'mount'), async (digest, key) => {
        const from = key === 'mount' ? '&from=hi/ref' : '';
        const req: RawRequest = { method: 'POST', path: `/v2/hi/ref/blobs/uploads/?${key}=${encodeURIComponent(digest)}${from}`, body: 'monolithic' };
        const where = `${label(req)} (${key} ${JSON.stringify(digest)})`;
        const before_ = await snapshot(h.registry.root);
        const res = await send(h.registry.url, req);
        if (key === 'mount' && isValidDigest(digest)) {
          // Nothing to mount: an ordinary session, as the spec says. Cancelling it restores the store.
          assert.equal(res.status, 202, `${where}: ${res.body.toString('utf8').slice(0, 200)}`);
          const cancelled = await send(h.registry.url, { method: 'DELETE', path: new URL(String(res.headers.location), 'http://x').pathname });
          assert.equal(cancelled.status, 204, where);
        } else {
          assertRefused(res, where, { codes: ['DIGEST_INVALID'], statuses: [400] });
        }
        assertSameStore(before_, await snapshot(h.registry.root), where);
      }),
      property,
    );
  });
});

/** Each run starts and completes a session (two fsyncing requests): fewer runs, the same reach. */
const CHUNK_RUNS = Math.ceil((RUNS * 2) / 3);

describe(`hostile Content-Range and Content-Length on upload chunks (${CHUNK_RUNS} runs)`, () => {
  const h = useTestRegistry();
  const CHUNK_SHAPE = /^(?:bytes[ =])?(\d+)-(\d+)(?:\/(?:\d+|\*))?$/;

  const bound = fc.oneof(
    fc.constantFrom('offset', 'offset-1', 'offset+1', 'zero'),
    fc.nat({ max: 200 }).map(String),
    fc.constantFrom('9007199254740991', '9007199254740992', '99999999999999999999', '18446744073709551616', '-1', '00', '1e3', '0x10', ''),
  );
  const wellFormedRange = fc.record({
    prefix: fc.constantFrom('', '', 'bytes ', 'bytes=', 'Bytes ', 'bytes  '),
    start: bound,
    // The end: exactly as long as the body, one off, before the start, or anything.
    end: fc.oneof(fc.constantFrom('fit', 'fit', 'fit+1', 'fit-1', 'start-1'), bound),
    total: fc.constantFrom('', '', '/*', '/0', '/5', '/99999999999999999999', '/x', '/'),
    space: fc.constantFrom('', '', ' ', '\t'),
  });
  const junkRange = fc.string({ unit: fc.constantFrom('0', '1', '9', '-', '/', ',', ' ', '*', 'b', 'y', 't', 'e', 's', '=', 'x', '+', '.'), maxLength: 24 });
  const chunk = fc.record({
    prior: fc.array(fc.integer({ min: 1, max: 40 }), { maxLength: 2 }),
    body: fc.nat({ max: 64 }),
    range: fc.oneof({ weight: 4, arbitrary: wellFormedRange }, { weight: 1, arbitrary: junkRange }),
    length: fc.constantFrom('exact', 'chunked'),
  });

  const resolve = (v: string, offset: number, start: number, body: number): string => {
    switch (v) {
      case 'offset': return String(offset);
      case 'offset-1': return String(offset - 1);
      case 'offset+1': return String(offset + 1);
      case 'zero': return '0';
      case 'fit': return String(start + body - 1);
      case 'fit+1': return String(start + body);
      case 'fit-1': return String(start + body - 2);
      case 'start-1': return String(start - 1);
      default: return v;
    }
  };

  it('accepts a chunk only at the upload offset with a matching length; refuses all else with a detail and keeps the session byte for byte', async () => {
    await fc.assert(
      fc.asyncProperty(chunk, async (c) => {
        const location = new URL(await h.client.startUpload('hi/chunks'), 'http://x').pathname;
        let received = Buffer.alloc(0);
        for (const n of c.prior) {
          const data = randomBytes(n);
          assert.equal((await h.client.patchChunk(location, data, received.length)).status, 202);
          received = Buffer.concat([received, data]);
        }
        const offset = received.length;
        const body = randomBytes(c.body);
        let header: string;
        if (typeof c.range === 'string') header = c.range;
        else {
          const start = resolve(c.range.start, offset, 0, 0);
          const end = resolve(c.range.end, offset, Number(start), c.body);
          header = `${c.range.prefix}${start}${c.range.space}-${end}${c.range.total}`;
        }
        const headers: Record<string, string> = { 'content-type': 'application/octet-stream', 'content-range': header };
        if (c.length === 'chunked') headers['transfer-encoding'] = 'chunked';
        else headers['content-length'] = String(body.length);
        const req: RawRequest = { method: 'PATCH', path: location, headers, body };
        const where = `PATCH at offset ${offset} with ${body.length} bytes, Content-Range ${JSON.stringify(header)} (${c.length})`;

        // The spec: a chunk must start where the upload stands and be as long as its range says.
        const m = CHUNK_SHAPE.exec(header.trim());
        const start = m ? Number(m[1]) : NaN;
        const end = m ? Number(m[2]) : NaN;
        const acceptable = m !== null && Number.isSafeInteger(start) && Number.isSafeInteger(end) && end >= start && start === offset && end - start + 1 === body.length;

        // The session is the test's own: its files are checked through the API below, the rest byte for byte.
        const session = `_uploads/${location.split('/').pop()}`;
        const others = (rel: string) => rel.includes(session);
        const before_ = await snapshot(h.registry.root, others);
        const res = await send(h.registry.url, req);
        if (acceptable) {
          assert.equal(res.status, 202, `${where}: ${res.body.toString('utf8').slice(0, 200)}`);
          received = Buffer.concat([received, body]);
        } else {
          assertRefused(res, where, { codes: ['BLOB_UPLOAD_INVALID', 'SIZE_INVALID'], statuses: [400, 416] });
          assertSameStore(before_, await snapshot(h.registry.root, others), where);
        }
        const status = await send(h.registry.url, { path: location });
        assert.equal(status.status, 204, where);
        assert.equal(status.headers.range, `0-${Math.max(received.length - 1, 0)}`, `${where}: the session's offset`);
        // Whatever happened, the session holds exactly the bytes accepted, and its digest checks.
        const done = await send(h.registry.url, { method: 'PUT', path: `${location}?digest=${sha256(received)}` });
        assert.equal(done.status, 201, `${where}, then completing: ${done.status} ${done.body.toString('utf8').slice(0, 200)}`);
      }),
      { ...property, numRuns: CHUNK_RUNS },
    );
  });
});

describe(`hostile Range headers on blob reads (${RUNS} runs)`, () => {
  const h = useTestRegistry();
  const data = randomBytes(100);
  const digest = sha256(data);
  before(async () => {
    const res = await h.client.pushBlob('hi/range', data, digest);
    assert.equal(res.status, 201);
  });

  const pos = fc.oneof(fc.nat({ max: 120 }).map(String), fc.constantFrom('', '', '99', '100', '101', '0', '9007199254740993', '99999999999999999999', '-1', 'a', ' 1'));
  const range = fc.oneof(
    { weight: 4, arbitrary: fc.tuple(fc.constantFrom('bytes=', 'bytes=', 'bytes =', 'Bytes=', 'items=', 'bytes'), pos, pos).map(([u, a, b]) => `${u}${a}-${b}`) },
    { weight: 1, arbitrary: fc.array(fc.tuple(pos, pos).map(([a, b]) => `${a}-${b}`), { minLength: 2, maxLength: 5 }).map((r) => `bytes=${r.join(',')}`) },
    { weight: 1, arbitrary: fc.string({ unit: fc.constantFrom('b', 'y', 't', 'e', 's', '=', '-', ',', '0', '5', '9', ' ', '*'), maxLength: 20 }) },
  );

  it('serves the whole blob, exactly the range asked, or 416 SIZE_INVALID with a detail and Content-Range', async () => {
    await fc.assert(
      fc.asyncProperty(range, async (header) => {
        const where = `GET blob with Range ${JSON.stringify(header)}`;
        const before_ = await snapshot(h.registry.root);
        const res = await send(h.registry.url, { path: `/v2/hi/range/blobs/${digest}`, headers: { range: header } });
        // The one form RFC 9110 obliges us to honour here: a single satisfiable bytes range.
        const m = /^bytes=(\d*)-(\d*)$/.exec(header.trim());
        if (m && (m[1] !== '' || m[2] !== '')) {
          const [a, b] = [m[1] === '' ? null : Number(m[1]), m[2] === '' ? null : Number(m[2])];
          if (a !== null && b !== null && b < a) {
            assert.equal(res.status, 200, where); // an invalid range spec is ignored (RFC 9110)
            assert.ok(res.body.equals(data), `${where}: the whole blob was not served`);
          } else if (a === null && b! > 0) {
            assert.equal(res.status, 206, where);
            assert.ok(res.body.equals(data.subarray(Math.max(0, 100 - b!))), `${where}: wrong suffix bytes`);
          } else if (a !== null && a < 100 && (b === null || b >= a)) {
            assert.equal(res.status, 206, where);
            const last = Math.min(b ?? 99, 99);
            assert.equal(res.headers['content-range'], `bytes ${a}-${last}/100`, where);
            assert.ok(res.body.equals(data.subarray(a, last + 1)), `${where}: wrong bytes`);
          } else {
            // Starts past the end, or asks for the last 0 bytes: nothing to send.
            assertRefused(res, where, { codes: ['SIZE_INVALID'], statuses: [416] });
            assert.equal(res.headers['content-range'], 'bytes */100', where);
          }
        } else if (res.status === 416) {
          assertRefused(res, where, { codes: ['SIZE_INVALID'] });
        } else {
          assert.equal(res.status, 200, `${where}: ${res.body.toString('utf8').slice(0, 200)}`);
          assert.ok(res.body.equals(data), `${where}: the whole blob was not served`);
        }
        assertSameStore(before_, await snapshot(h.registry.root), where);
      }),
      property,
    );
  });
});

describe(`hostile manifests (${RUNS} runs per kind)`, () => {
  const h = useTestRegistry();
  const bases: { kind: string; json: Record<string, unknown>; mediaType: string; descriptors: (string | number)[][] }[] = [];
  before(async () => {
    const image = await h.client.pushImage('hi/mf', 'image', ociImage({ layers: 2 }));
    const docker = await h.client.pushImage('hi/mf', 'docker', dockerImage({ layers: 1 }));
    const index = imageIndex([manifestDescriptor(image), manifestDescriptor(docker)]);
    assert.equal((await h.client.pushManifest('hi/mf', 'index', index.manifest, index.mediaType)).status, 201);
    const parse = (b: Buffer) => JSON.parse(b.toString('utf8')) as Record<string, unknown>;
    bases.push(
      { kind: 'OCI image', json: parse(image.manifest), mediaType: image.mediaType, descriptors: [['config'], ['layers', 0], ['layers', 1]] },
      { kind: 'Docker image', json: parse(docker.manifest), mediaType: docker.mediaType, descriptors: [['config'], ['layers', 0]] },
      { kind: 'OCI index', json: parse(index.manifest), mediaType: index.mediaType, descriptors: [['manifests', 0], ['manifests', 1]] },
    );
  });

  for (const kind of ['OCI image', 'Docker image', 'OCI index']) {
    it(`refuses every broken ${kind} (random JSON, mutated fields, wrong types, bad digests, huge sizes, Content-Type games) and stores nothing`, async () => {
      const base = bases.find((b) => b.kind === kind)!;
      const reference = fc.oneof(fc.stringMatching(/^[a-z0-9]{1,12}$/).map((t) => `t-${t}`), fc.constant('by-digest'));
      await fc.assert(
        fc.asyncProperty(hostileManifest(base.json, base.mediaType, base.descriptors), reference, async (m, ref) => {
          const target = ref === 'by-digest' ? sha256(m.body) : ref;
          const headers: Record<string, string> = {};
          if (m.contentType !== '') headers['content-type'] = m.contentType;
          const req: RawRequest = { method: 'PUT', path: `/v2/hi/mf/manifests/${target}`, headers, body: m.body };
          const where = `${kind}, ${m.what}, sent as ${JSON.stringify(m.contentType)} to ${ref}`;
          const before_ = await snapshot(h.registry.root);
          const res = await send(h.registry.url, req);
          assertRefused(res, where, { codes: m.codes });
          assertSameStore(before_, await snapshot(h.registry.root), where);
        }),
        property,
      );
    });
  }
});

describe(`hostile query parameters and Accept headers (${RUNS} runs)`, () => {
  const h = useTestRegistry();
  let image: ImageFixture;
  before(async () => {
    image = await h.client.pushImage('hi/q', 'v1', ociImage({ layers: 1 }));
  });

  const value = fc.oneof(
    fc.nat({ max: 2000 }).map(String),
    fc.constantFrom('', '-1', '1.5', '1e3', '0x10', '999999999', '1000000000', '99999999999999999999', '%201', '1%20', '%ff', '%00', 'v1', '%2e%2e'),
    fc.string({ unit: fc.constantFrom('a', '1', '-', '.', '%', '2', 'f', '+', '[', ']'), maxLength: 10 }),
  );

  it('answers tags/list and _catalog with 200, or 400 with a detail, whatever n and last are', async () => {
    await fc.assert(
      fc.asyncProperty(fc.constantFrom('/v2/hi/q/tags/list', '/v2/_catalog'), fc.option(value), fc.option(value), fc.boolean(), async (path, n, last, repeat) => {
        const params = [n === null ? null : `n=${n}`, last === null ? null : `last=${last}`, repeat && n !== null ? `n=${n}` : null].filter(Boolean);
        const req: RawRequest = { path: `${path}${params.length ? `?${params.join('&')}` : ''}` };
        const where = label(req);
        const before_ = await snapshot(h.registry.root);
        const res = await send(h.registry.url, req);
        if (res.status === 200) {
          const body = res.json<{ tags?: string[]; repositories?: string[] }>();
          assert.ok(Array.isArray(body.tags ?? body.repositories), `${where}: ${res.body.toString('utf8').slice(0, 200)}`);
          // A plain n of up to 9 digits is what a 200 may have been given.
          if (n !== null) assert.match(decoded(n) ?? n, /^\d{1,9}$/, `${where}: answered 200`);
        } else {
          assertRefused(res, where, { statuses: [400] });
        }
        assertSameStore(before_, await snapshot(h.registry.root), where);
      }),
      property,
    );
  });

  const mediaRange = fc.oneof(
    fc.constantFrom(MediaTypes.ociManifest, MediaTypes.ociIndex, MediaTypes.dockerManifest, MediaTypes.dockerManifestList, '*/*', 'application/*', 'application/json', 'text/html', '', ' ', ';', ',', 'APPLICATION/VND.OCI.IMAGE.MANIFEST.V1+JSON'),
    fc.stringMatching(/^[a-z]{1,6}\/[a-z0-9.+*-]{1,12}$/),
  );
  const accept = fc
    .tuple(fc.array(fc.tuple(mediaRange, fc.constantFrom('', ';q=0', ';q=1', ';q=0.5', ';charset=utf-8', ';;', ';q=x')), { maxLength: 5 }), fc.constantFrom(',', ', ', ' ,'))
    .map(([parts, sep]) => parts.map(([t, p]) => `${t}${p}`).join(sep));

  it('serves a manifest for any Accept that admits its type, or answers 404 MANIFEST_UNKNOWN with a detail', async () => {
    await fc.assert(
      fc.asyncProperty(accept, fc.constantFrom('GET', 'HEAD'), fc.constantFrom('v1', 'digest'), async (header, method, ref) => {
        const req: RawRequest = { method, path: `/v2/hi/q/manifests/${ref === 'digest' ? image.digest : ref}`, headers: { accept: header } };
        const where = `${label(req)} Accept ${JSON.stringify(header)}`;
        const res = await send(h.registry.url, req);
        const types = header.split(',').map((p) => p.split(';')[0]!.trim().toLowerCase()).filter(Boolean);
        const admits = types.length === 0 || types.some((t) => t === '*/*' || t === 'application/*' || t === MediaTypes.ociManifest);
        if (admits) {
          assert.equal(res.status, 200, `${where}: ${res.body.toString('utf8').slice(0, 200)}`);
          if (method === 'GET') assert.ok(res.body.equals(image.manifest), `${where}: not the bytes pushed`);
        } else {
          assertRefused(res, where, { codes: ['MANIFEST_UNKNOWN'], statuses: [404], method });
        }
      }),
      property,
    );
  });
});
