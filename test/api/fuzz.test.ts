import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { before, describe, it } from 'node:test';
import { assertAdminErrorBody, assertErrorBody } from '../helpers/assertions.ts';
import { Client } from '../helpers/client.ts';
import { MediaTypes, ociImage, sha256, sha512, type ImageFixture } from '../helpers/oci.ts';
import { rawRequest, rawSocketStatus, type RawRequest } from '../helpers/raw-http.ts';
import { useTestRegistry } from '../helpers/registry.ts';

/** One nasty request; `path` may need a fresh upload session first. */
interface Case {
  label: string;
  method?: string;
  path: string | ((c: Client) => Promise<string>);
  headers?: RawRequest['headers'];
  body?: Buffer | string;
}

const OCI = { 'content-type': MediaTypes.ociManifest };
const session = async (c: Client) => new URL(await c.startUpload('fz/app'), 'http://x').pathname;

function manifestWith(extra: Record<string, unknown>, image: ImageFixture): string {
  return JSON.stringify({ ...JSON.parse(image.manifest.toString('utf8')), ...extra });
}

function cases(image: ImageFixture): Case[] {
  const blob = image.layers[0]!.digest;
  const deep = `${'{"a":'.repeat(50_000)}1${'}'.repeat(50_000)}`;
  const deepArray = `{"schemaVersion":2,"mediaType":"${MediaTypes.ociManifest}","config":${'['.repeat(100_000)}${']'.repeat(100_000)},"layers":[]}`;
  const missing = { mediaType: MediaTypes.ociLayer, digest: sha512('missing'), size: 1 };
  return [
    // Manifest bodies
    { label: 'deeply nested JSON object', method: 'PUT', path: '/v2/fz/app/manifests/deep', headers: OCI, body: deep },
    { label: 'deeply nested array as config', method: 'PUT', path: '/v2/fz/app/manifests/deep2', headers: OCI, body: deepArray },
    { label: '__proto__ keys', method: 'PUT', path: '/v2/fz/app/manifests/proto', headers: OCI, body: manifestWith({ __proto__: { polluted: true }, annotations: { __proto__: 'x', constructor: 'y' } }, image) },
    { label: 'size of 1e400', method: 'PUT', path: '/v2/fz/app/manifests/inf', headers: OCI, body: manifestWith({ layers: [{ ...missing, size: 1e400 }] }, image).replace('null', '1e400') },
    { label: 'size beyond 2^53', method: 'PUT', path: '/v2/fz/app/manifests/huge', headers: OCI, body: manifestWith({ layers: [{ mediaType: MediaTypes.ociLayer, digest: blob, size: 2 ** 60 }] }, image) },
    { label: '40000 missing layers', method: 'PUT', path: '/v2/fz/app/manifests/many', headers: OCI, body: manifestWith({ layers: Array.from({ length: 40_000 }, () => missing) }, image) },
    { label: 'index of 20000 unknown children', method: 'PUT', path: '/v2/fz/app/manifests/wide', headers: { 'content-type': MediaTypes.ociIndex }, body: JSON.stringify({ schemaVersion: 2, mediaType: MediaTypes.ociIndex, manifests: Array.from({ length: 20_000 }, (_, i) => ({ mediaType: MediaTypes.ociManifest, digest: sha256(String(i)), size: 1 })) }) },
    { label: 'UTF-8 BOM before JSON', method: 'PUT', path: '/v2/fz/app/manifests/bom', headers: OCI, body: Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), image.manifest]) },
    { label: 'invalid UTF-8 in a string', method: 'PUT', path: '/v2/fz/app/manifests/utf8', headers: OCI, body: Buffer.concat([Buffer.from('{"schemaVersion":2,"x":"'), Buffer.from([0xff, 0xfe, 0xc0]), Buffer.from('"}')]) },
    { label: 'random binary', method: 'PUT', path: '/v2/fz/app/manifests/binary', headers: OCI, body: randomBytes(4096) },
    { label: 'garbage Content-Type', method: 'PUT', path: '/v2/fz/app/manifests/ct', headers: { 'content-type': ';;;=;' }, body: image.manifest },
    { label: 'very long Content-Type', method: 'PUT', path: '/v2/fz/app/manifests/ct2', headers: { 'content-type': `${MediaTypes.ociManifest};${'p=v;'.repeat(1500)}` }, body: image.manifest },
    { label: 'subject with a sha512 digest of another length', method: 'PUT', path: '/v2/fz/app/manifests/subj', headers: OCI, body: manifestWith({ subject: { mediaType: MediaTypes.ociManifest, digest: `sha512:${'a'.repeat(64)}`, size: 1 } }, image) },
    { label: 'Expect: 100-continue', method: 'PUT', path: '/v2/fz/app/manifests/expect', headers: { ...OCI, expect: '100-continue' }, body: image.manifest },
    // Blob reads
    { label: 'Range start beyond 2^53', path: `/v2/fz/app/blobs/${blob}`, headers: { range: 'bytes=99999999999999999999999-' } },
    { label: 'Range end beyond 2^53', path: `/v2/fz/app/blobs/${blob}`, headers: { range: 'bytes=0-99999999999999999999999' } },
    { label: 'huge suffix Range', path: `/v2/fz/app/blobs/${blob}`, headers: { range: 'bytes=-99999999999999999999999999' } },
    { label: 'many ranges', path: `/v2/fz/app/blobs/${blob}`, headers: { range: `bytes=${Array.from({ length: 500 }, (_, i) => `${i}-${i}`).join(',')}` } },
    { label: 'Range with spaces and junk', path: `/v2/fz/app/blobs/${blob}`, headers: { range: 'bytes = 0 - 1, x' } },
    // Upload chunks
    { label: 'Content-Range end beyond 2^53', method: 'PATCH', path: session, headers: { 'content-range': '0-99999999999999999999' }, body: 'abc' },
    { label: 'Content-Range start beyond 2^53', method: 'PATCH', path: session, headers: { 'content-range': '99999999999999999999-99999999999999999999' }, body: 'abc' },
    { label: 'Content-Range of 2^53 bytes', method: 'PATCH', path: session, headers: { 'content-range': '0-9007199254740991' }, body: 'abc' },
    { label: 'Content-Range on an empty body', method: 'PATCH', path: session, headers: { 'content-range': '0-0', 'content-length': '0' } },
    { label: 'Content-Range with total', method: 'PATCH', path: session, headers: { 'content-range': 'bytes 0-2/3' }, body: 'abc' },
    { label: 'chunked PUT longer than its Content-Range', method: 'PUT', path: async (c) => `${await session(c)}?digest=${sha256('0123456789')}`, headers: { 'content-range': '0-4', 'transfer-encoding': 'chunked' }, body: '0123456789' },
    { label: 'mount and digest together', method: 'POST', path: `/v2/fz/other/blobs/uploads/?mount=${blob}&from=fz/app&digest=${sha256('x')}`, body: 'x' },
    { label: 'digest with bad percent-encoding', method: 'PUT', path: async (c) => `${await session(c)}?digest=%ff%zz`, body: 'x' },
    { label: 'digest as an array parameter', method: 'PUT', path: async (c) => `${await session(c)}?digest[]=${sha256('x')}`, body: 'x' },
    { label: 'digest as a nested parameter', method: 'POST', path: `/v2/fz/app/blobs/uploads/?digest[a][b]=1&mount[x]=y`, body: 'x' },
    // Queries and paths
    { label: 'n beyond 2^53', path: '/v2/fz/app/tags/list?n=99999999999999999999' },
    { label: 'n of a billion on the catalog', path: '/v2/_catalog?n=1000000000' },
    { label: 'repeated n', path: '/v2/_catalog?n=1&n=2' },
    { label: 'last with invalid UTF-8', path: '/v2/fz/app/tags/list?n=1&last=%ff%fe' },
    { label: 'artifactType repeated', path: `/v2/fz/app/referrers/${image.digest}?artifactType=a&artifactType=b` },
    { label: 'bad percent-encoding in a name', path: '/v2/%zz/manifests/latest' },
    { label: 'lone percent in a reference', path: '/v2/fz/app/manifests/%' },
    { label: 'invalid UTF-8 in a reference', path: '/v2/fz/app/manifests/%ff' },
    { label: 'truncated UTF-8 in a digest', path: '/v2/fz/app/blobs/%E0%A4%A' },
    { label: 'NUL in a reference', path: '/v2/fz/app/manifests/a%00b' },
    { label: 'matrix parameters', path: '/v2/fz/app/manifests/latest;x=y' },
    { label: 'trailing slash', path: '/v2/fz/app/manifests/v1/' },
    { label: 'double slash prefix', path: '//v2/' },
    { label: 'a fragment', path: '/v2/fz/app/manifests/v1#frag' },
    { label: 'query with bad encoding', path: '/v2/fz/app/manifests/v1?%zz=%' },
    { label: 'name segments called like internal directories', path: '/v2/fz/app/_manifests/tags/list' },
    { label: 'repository named blobs/uploads', method: 'POST', path: '/v2/fz/blobs/uploads/blobs/uploads/' },
    { label: 'manifests under manifests', path: '/v2/fz/manifests/x/manifests/v1' },
    { label: 'very long tag', path: `/v2/fz/app/manifests/${'t'.repeat(5000)}` },
    { label: 'very long digest', path: `/v2/fz/app/blobs/sha256:${'a'.repeat(5000)}` },
    { label: 'long Accept list', path: '/v2/fz/app/manifests/v1', headers: { accept: Array.from({ length: 400 }, (_, i) => `application/x-${i}`).join(', ') } },
    { label: 'empty Accept entries', path: '/v2/fz/app/manifests/v1', headers: { accept: ', , ;q=1,' } },
    // The operator API shares the port
    { label: 'notification endpoints list', path: '/notifications/endpoints' },
    { label: 'ping of an unknown endpoint', method: 'POST', path: '/notifications/endpoints/none/ping' },
    { label: 'deliveries with a bad limit', path: '/notifications/endpoints/none/deliveries?limit=abc' },
    { label: 'redeliver with a traversal id', method: 'POST', path: '/notifications/endpoints/..%2f..%2fx/deliveries/..%2f/redeliver' },
    { label: 'endpoint name with bad encoding', path: '/notifications/endpoints/%zz/dead-letters' },
    { label: 'WebDAV method', method: 'PROPFIND', path: '/v2/fz/app/manifests/v1' },
    { label: 'TRACE', method: 'TRACE', path: '/v2/' },
  ];
}

describe('no crafted request produces a 5xx', () => {
  const h = useTestRegistry();
  let image: ImageFixture;
  before(async () => {
    image = await h.client.pushImage('fz/app', 'v1', ociImage({ layers: 1 }));
  });

  it('answers every request of the table below 500, with a spec error body for app errors', async () => {
    const failures: string[] = [];
    for (const k of cases(image)) {
      const path = typeof k.path === 'string' ? k.path : await k.path(h.client);
      let res;
      try {
        res = await rawRequest(h.registry.url, { method: k.method ?? 'GET', path, headers: k.headers, body: k.body });
      } catch (err) {
        failures.push(`${k.label}: no response (${(err as Error).message})`);
        continue;
      }
      if (res.status >= 500) failures.push(`${k.label}: ${res.status} ${res.body.toString('utf8').slice(0, 200)}`);
      // A response that went through the application (it carries the API version header) and
      // is an error must be the spec's JSON error body.
      const fromApp = res.headers['docker-distribution-api-version'] !== undefined;
      if (fromApp && res.status >= 400 && (k.method ?? 'GET') !== 'HEAD') {
        try {
          if (path.startsWith('/notifications/')) assertAdminErrorBody(res.json(), k.label);
          else assertErrorBody(res.json(), k.label);
        } catch (err) {
          failures.push(`${k.label}: ${res.status} without a spec error body: ${(err as Error).message.slice(0, 200)}`);
        }
      }
    }
    assert.deepEqual(failures, []);
  });

  it('answers malformed HTTP below 500 or closes the connection', async () => {
    const requests = [
      'GET * HTTP/1.1\r\nHost: x\r\n\r\n',
      'OPTIONS * HTTP/1.1\r\nHost: x\r\n\r\n',
      'GET http://evil.example/v2/../../x HTTP/1.1\r\nHost: x\r\n\r\n',
      'GET /v2/ HTTP/1.0\r\n\r\n',
      `GET /v2/${'a'.repeat(20_000)}/manifests/x HTTP/1.1\r\nHost: x\r\n\r\n`,
      'GET /v2/\u0000 HTTP/1.1\r\nHost: x\r\n\r\n',
      'FOO /v2/ HTTP/1.1\r\nHost: x\r\n\r\n',
      'CONNECT evil.example:443 HTTP/1.1\r\nHost: evil.example:443\r\n\r\n',
      'PUT /v2/fz/app/manifests/x HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello',
      'PATCH /v2/fz/app/blobs/uploads/x HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n',
      'GET /v2/ HTTP/1.1\r\nHost: x\r\nBad Header: y\r\n\r\n',
      'GET /v2/ HTTP/9.9\r\nHost: x\r\n\r\n',
    ];
    const failures: string[] = [];
    for (const text of requests) {
      const { status } = await rawSocketStatus(h.registry.url, text);
      if (status >= 500) failures.push(`${JSON.stringify(text.slice(0, 60))}: ${status}`);
    }
    assert.deepEqual(failures, []);
  });

  it('is still serving after all of that', async () => {
    const res = await h.client.fetch('/v2/fz/app/manifests/v1');
    assert.equal(res.status, 200);
    assert.ok(Buffer.from(await res.arrayBuffer()).equals(image.manifest));
  });
});
