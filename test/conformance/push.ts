import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { dummyDigest, emptyLayerTestTag, MANIFEST_TYPE, nonexistentManifest } from './fixtures.ts';
import {
  deleteAt,
  expect2xxOr,
  expectHeader,
  expectHeaderNotEmpty,
  expectStatus,
  putManifest,
  required,
  warn,
  type Suite,
} from './harness.ts';
import { registerCrossMount } from './crossmount.ts';
import type { Response } from './reggie.ts';

const OCTET = 'application/octet-stream';

/** conformance/02_push_test.go (test02Push). */
export function test02Push(s: Suite): void {
  describe('Push', () => {
    let lastResponse: Response | undefined;
    let prevResponse: Response | undefined;
    let emptyLayerManifestRef = '';

    // "Setup": no setup required at this time for push tests

    describe('Blob Upload Streamed', () => {
      it('PATCH request with blob in body should yield 202 response', async () => {
        const c = s.client;
        let resp = await c.do(c.newRequest('POST', '/v2/<name>/blobs/uploads/'));
        expectHeaderNotEmpty(resp, 'Location');
        resp = await c.do(c.newRequest('PATCH', resp.relativeLocation()).setHeader('Content-Type', OCTET).setBody(s.fx.testBlobA));
        expectStatus(resp, 202);
        lastResponse = resp;
      });

      it('PUT request to session URL with digest should yield 201 response', async () => {
        const c = s.client;
        const last = required(lastResponse, 'lastResponse');
        const resp = await c.do(
          c
            .newRequest('PUT', last.relativeLocation())
            .setQueryParam('digest', s.fx.testBlobADigest)
            .setHeader('Content-Type', OCTET)
            .setHeader('Content-Length', s.fx.testBlobALength), // no body: Go sends Content-Length: 0
        );
        expectStatus(resp, 201);
        expectHeaderNotEmpty(resp, 'Location');
      });
    });

    describe('Blob Upload Monolithic', () => {
      it('GET nonexistent blob should result in 404 response', async () => {
        const c = s.client;
        expectStatus(await c.do(c.newRequest('GET', '/v2/<name>/blobs/<digest>', { digest: dummyDigest })), 404);
      });

      it('POST request with digest and blob should yield a 201 or 202', async () => {
        const c = s.client;
        const c1 = s.fx.configs[1]!;
        const resp = await c.do(
          c
            .newRequest('POST', '/v2/<name>/blobs/uploads/')
            .setHeader('Content-Length', c1.contentLength)
            .setHeader('Content-Type', OCTET)
            .setQueryParam('digest', c1.digest)
            .setBody(c1.content),
        );
        expectHeaderNotEmpty(resp, 'Location');
        expectStatus(resp, 201, 202);
        lastResponse = resp;
      });

      it('GET request to blob URL from prior request should yield 200 or 404 based on response code', async () => {
        const c = s.client;
        const last = required(lastResponse, 'lastResponse');
        const resp = await c.do(c.newRequest('GET', '/v2/<name>/blobs/<digest>', { digest: s.fx.configs[1]!.digest }));
        if (last.status === 202) expectStatus(resp, 404);
        else expectStatus(resp, 200);
      });

      it('POST request should yield a session ID', async () => {
        const c = s.client;
        const resp = await c.do(c.newRequest('POST', '/v2/<name>/blobs/uploads/'));
        expectStatus(resp, 202);
        lastResponse = resp;
      });

      it('PUT upload of a blob should yield a 201 Response', async () => {
        const c = s.client;
        const c1 = s.fx.configs[1]!;
        const last = required(lastResponse, 'lastResponse');
        const resp = await c.do(
          c
            .newRequest('PUT', last.relativeLocation())
            .setHeader('Content-Length', c1.contentLength)
            .setHeader('Content-Type', OCTET)
            .setQueryParam('digest', c1.digest)
            .setBody(c1.content),
        );
        expectHeaderNotEmpty(resp, 'Location');
        expectStatus(resp, 201);
      });

      it('GET request to existing blob should yield 200 response', async () => {
        const c = s.client;
        expectStatus(await c.do(c.newRequest('GET', '/v2/<name>/blobs/<digest>', { digest: s.fx.configs[1]!.digest })), 200);
      });

      it('PUT upload of a layer blob should yield a 201 Response', async () => {
        const c = s.client;
        const post = await c.do(c.newRequest('POST', '/v2/<name>/blobs/uploads/'));
        const resp = await c.do(
          c
            .newRequest('PUT', post.relativeLocation())
            .setHeader('Content-Length', s.fx.layerBlobContentLength)
            .setHeader('Content-Type', OCTET)
            .setQueryParam('digest', s.fx.layerBlobDigest)
            .setBody(s.fx.layerBlobData),
        );
        expectHeaderNotEmpty(resp, 'Location');
        expectStatus(resp, 201);
      });

      it('GET request to existing layer should yield 200 response', async () => {
        const c = s.client;
        expectStatus(await c.do(c.newRequest('GET', '/v2/<name>/blobs/<digest>', { digest: s.fx.layerBlobDigest })), 200);
      });
    });

    describe('Blob Upload Chunked', () => {
      it('Out-of-order blob upload should return 416', async () => {
        const c = s.client;
        let resp = await c.do(c.newRequest('POST', '/v2/<name>/blobs/uploads/').setHeader('Content-Length', '0'));
        expectHeaderNotEmpty(resp, 'Location');
        // rebuild chunked blob if min size is above our chunk size
        const minSizeStr = resp.header('OCI-Chunk-Min-Length');
        if (minSizeStr !== '') {
          assert.match(minSizeStr, /^[+-]?\d+$/, `OCI-Chunk-Min-Length is not an integer\n${resp.dump()}`);
          const minSize = Number(minSizeStr);
          if (minSize > s.fx.testBlobBChunk1.length) s.fx.setupChunkedBlob(minSize * 2 - 2);
        }
        resp = await c.do(
          c
            .newRequest('PATCH', resp.relativeLocation())
            .setHeader('Content-Type', OCTET)
            .setHeader('Content-Length', s.fx.testBlobBChunk2Length)
            .setHeader('Content-Range', s.fx.testBlobBChunk2Range)
            .setBody(s.fx.testBlobBChunk2),
        );
        expectStatus(resp, 416);
      });

      it('PATCH request with first chunk should return 202', async () => {
        const c = s.client;
        let resp = await c.do(c.newRequest('POST', '/v2/<name>/blobs/uploads/').setHeader('Content-Length', '0'));
        expectHeaderNotEmpty(resp, 'Location');
        prevResponse = resp;
        resp = await c.do(
          c
            .newRequest('PATCH', resp.relativeLocation())
            .setHeader('Content-Type', OCTET)
            .setHeader('Content-Length', s.fx.testBlobBChunk1Length)
            .setHeader('Content-Range', s.fx.testBlobBChunk1Range)
            .setBody(s.fx.testBlobBChunk1),
        );
        expectStatus(resp, 202);
        expectHeader(resp, 'Range', s.fx.testBlobBChunk1Range);
        lastResponse = resp;
      });

      it('Retry previous blob chunk should return 416', async () => {
        const c = s.client;
        const prev = required(prevResponse, 'prevResponse');
        const resp = await c.do(
          c
            .newRequest('PATCH', prev.relativeLocation())
            .setHeader('Content-Type', OCTET)
            .setHeader('Content-Length', s.fx.testBlobBChunk1Length)
            .setHeader('Content-Range', s.fx.testBlobBChunk1Range)
            .setBody(s.fx.testBlobBChunk1),
        );
        expectStatus(resp, 416);
      });

      it('Get on stale blob upload should return 204 with a range and location', async () => {
        const c = s.client;
        const prev = required(prevResponse, 'prevResponse');
        const resp = await c.do(c.newRequest('GET', prev.relativeLocation()));
        expectStatus(resp, 204);
        expectHeaderNotEmpty(resp, 'Location');
        expectHeader(resp, 'Range', s.fx.testBlobBChunk1Range);
        lastResponse = resp;
      });

      it('PATCH request with second chunk should return 202', async () => {
        const c = s.client;
        const last = required(lastResponse, 'lastResponse');
        const resp = await c.do(
          c
            .newRequest('PATCH', last.relativeLocation())
            .setHeader('Content-Length', s.fx.testBlobBChunk2Length)
            .setHeader('Content-Range', s.fx.testBlobBChunk2Range)
            .setHeader('Content-Type', OCTET)
            .setBody(s.fx.testBlobBChunk2),
        );
        expectStatus(resp, 202);
        expectHeaderNotEmpty(resp, 'Location');
        lastResponse = resp;
      });

      it('PUT request with digest should return 201', async () => {
        const c = s.client;
        const last = required(lastResponse, 'lastResponse');
        const resp = await c.do(
          c
            .newRequest('PUT', last.relativeLocation())
            .setHeader('Content-Length', '0')
            .setHeader('Content-Type', OCTET)
            .setQueryParam('digest', s.fx.testBlobBDigest),
        );
        expectStatus(resp, 201);
        expectHeaderNotEmpty(resp, 'Location');
      });
    });

    registerCrossMount(s, {
      get last() {
        return lastResponse;
      },
      set last(r) {
        lastResponse = r;
      },
    });

    describe('Manifest Upload', () => {
      it('GET nonexistent manifest should return 404', async () => {
        const c = s.client;
        expectStatus(await c.do(c.newRequest('GET', '/v2/<name>/manifests/<reference>', { reference: nonexistentManifest })), 404);
      });

      it('PUT should accept a manifest upload', async () => {
        for (let i = 0; i < 4; i++) {
          const resp = await putManifest(s, `test${i}`, s.fx.manifests[1]!.content, MANIFEST_TYPE);
          expectHeaderNotEmpty(resp, 'Location');
          expectStatus(resp, 201);
        }
      });

      it('Registry should accept a manifest upload with no layers', async (t) => {
        const resp = await putManifest(s, emptyLayerTestTag, s.fx.emptyLayerManifestContent, MANIFEST_TYPE);
        if (resp.status === 201) {
          emptyLayerManifestRef = resp.header('Location');
          expectHeaderNotEmpty(resp, 'Location');
        } else {
          warn(t, `image manifest with no layers is not supported\n${resp.dump()}`);
        }
      });

      it('GET request to manifest URL (digest) should yield 200 response', async () => {
        const c = s.client;
        const resp = await c.do(c.newRequest('GET', '/v2/<name>/manifests/<digest>', { digest: s.fx.manifests[1]!.digest }).setHeader('Accept', MANIFEST_TYPE));
        expectStatus(resp, 200);
      });
    });

    describe('Teardown', () => {
      const deleteManifest = () =>
        it('Delete manifest created in tests', async () => {
          expect2xxOr(await deleteAt(s, '/v2/<name>/manifests/<digest>', s.fx.manifests[1]!.digest), 405);
          if (emptyLayerManifestRef !== '') {
            expect2xxOr(await deleteAt(s, '/v2/<name>/manifests/<reference>', s.fx.emptyLayerManifestDigest), 405);
          }
        });
      if (s.settings.deleteManifestBeforeBlobs) deleteManifest();

      it('Delete config blob created in tests', async () => {
        expect2xxOr(await deleteAt(s, '/v2/<name>/blobs/<digest>', s.fx.configs[1]!.digest), 404, 405);
      });

      it('Delete layer blob created in setup', async () => {
        expect2xxOr(await deleteAt(s, '/v2/<name>/blobs/<digest>', s.fx.layerBlobDigest), 404, 405);
      });

      if (!s.settings.deleteManifestBeforeBlobs) deleteManifest();
    });
  });
}
