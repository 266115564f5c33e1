import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { errorCodes, MANIFEST_TYPE, nonexistentManifest, testTagName, dummyDigest, invalidManifestContent } from './fixtures.ts';
import {
  deleteAt,
  expect2xx,
  expect2xxOr,
  expectDigestHeaderIfPresent,
  expectStatus,
  putManifest,
  uploadBlob,
  type Suite,
} from './harness.ts';

/** conformance/01_pull_test.go (test01Pull). */
export function test01Pull(s: Suite): void {
  describe('Pull', () => {
    let tag = '';

    describe('Setup', () => {
      it('Populate registry with test blob', async () => {
        const c0 = s.fx.configs[0]!;
        expect2xx(await uploadBlob(s, c0.content, c0.digest, c0.contentLength));
      });

      it('Populate registry with test blob', async () => {
        const c1 = s.fx.configs[1]!;
        expect2xx(await uploadBlob(s, c1.content, c1.digest, c1.contentLength));
      });

      it('Populate registry with test layer', async () => {
        expect2xx(await uploadBlob(s, s.fx.layerBlobData, s.fx.layerBlobDigest, s.fx.layerBlobContentLength));
      });

      it('Populate registry with test manifest', async () => {
        tag = testTagName;
        expect2xx(await putManifest(s, tag, s.fx.manifests[0]!.content, MANIFEST_TYPE));
      });

      it('Populate registry with test manifest', async () => {
        const m1 = s.fx.manifests[1]!;
        expect2xx(await putManifest(s, m1.digest, m1.content, MANIFEST_TYPE));
      });
      // "Get tag name from environment" runs only when setup is skipped (OCI_TAG_NAME etc. set): not ported.
    });

    describe('Pull blobs', () => {
      it('HEAD request to nonexistent blob should result in 404 response', async () => {
        const c = s.client;
        expectStatus(await c.do(c.newRequest('HEAD', '/v2/<name>/blobs/<digest>', { digest: dummyDigest })), 404);
      });

      it('HEAD request to existing blob should yield 200', async () => {
        const c = s.client;
        const digest = s.fx.configs[0]!.digest;
        const resp = await c.do(c.newRequest('HEAD', '/v2/<name>/blobs/<digest>', { digest }));
        expectStatus(resp, 200);
        expectDigestHeaderIfPresent(resp, digest);
      });

      it('GET nonexistent blob should result in 404 response', async () => {
        const c = s.client;
        expectStatus(await c.do(c.newRequest('GET', '/v2/<name>/blobs/<digest>', { digest: dummyDigest })), 404);
      });

      it('GET request to existing blob URL should yield 200', async () => {
        const c = s.client;
        expectStatus(await c.do(c.newRequest('GET', '/v2/<name>/blobs/<digest>', { digest: s.fx.configs[0]!.digest })), 200);
      });
    });

    describe('Pull manifests', () => {
      it('HEAD request to nonexistent manifest should return 404', async () => {
        const c = s.client;
        expectStatus(await c.do(c.newRequest('HEAD', '/v2/<name>/manifests/<reference>', { reference: nonexistentManifest })), 404);
      });

      for (const i of [0, 1]) {
        it(`HEAD request to manifest[${i}] path (digest) should yield 200 response`, async () => {
          const c = s.client;
          const digest = s.fx.manifests[i]!.digest;
          const resp = await c.do(c.newRequest('HEAD', '/v2/<name>/manifests/<digest>', { digest }).setHeader('Accept', MANIFEST_TYPE));
          expectStatus(resp, 200);
          expectDigestHeaderIfPresent(resp, digest);
        });
      }

      it('HEAD request to manifest path (tag) should yield 200 response', async () => {
        const c = s.client;
        assert.notEqual(tag, '', 'tag should not be empty');
        const resp = await c.do(c.newRequest('HEAD', '/v2/<name>/manifests/<reference>', { reference: tag }).setHeader('Accept', MANIFEST_TYPE));
        expectStatus(resp, 200);
        expectDigestHeaderIfPresent(resp, s.fx.manifests[0]!.digest);
      });

      it('GET nonexistent manifest should return 404', async () => {
        const c = s.client;
        expectStatus(await c.do(c.newRequest('GET', '/v2/<name>/manifests/<reference>', { reference: nonexistentManifest })), 404);
      });

      for (const i of [0, 1]) {
        it(`GET request to manifest[${i}] path (digest) should yield 200 response`, async () => {
          const c = s.client;
          const digest = s.fx.manifests[i]!.digest;
          expectStatus(await c.do(c.newRequest('GET', '/v2/<name>/manifests/<digest>', { digest }).setHeader('Accept', MANIFEST_TYPE)), 200);
        });
      }

      it('GET request to manifest path (tag) should yield 200 response', async () => {
        const c = s.client;
        assert.notEqual(tag, '', 'tag should not be empty');
        expectStatus(await c.do(c.newRequest('GET', '/v2/<name>/manifests/<reference>', { reference: tag }).setHeader('Accept', MANIFEST_TYPE)), 200);
      });
    });

    describe('Error codes', () => {
      it('400 response body should contain OCI-conforming JSON message', async () => {
        const c = s.client;
        // resty sends no body on GET; the Content-Type header (and the Accept resty derives from it) still go out.
        const resp = await c.do(
          c
            .newRequest('GET', '/v2/<name>/manifests/<reference>', { reference: 'sha256:totallywrong' })
            .setHeader('Content-Type', MANIFEST_TYPE)
            .setBody(invalidManifestContent),
        );
        expectStatus(resp, 400, 404);
        if (resp.status === 400) {
          const errors = resp.errors();
          assert.ok(errors.length > 0, `errors should not be empty\n${resp.dump()}`);
          assert.ok((errorCodes as readonly string[]).includes(errors[0]!.code), `unknown error code ${errors[0]!.code}\n${resp.dump()}`);
        }
      });
    });

    describe('Teardown', () => {
      const deleteManifests = () => {
        for (const i of [0, 1]) {
          it(`Delete manifest[${i}] created in setup`, async () => {
            expect2xxOr(await deleteAt(s, '/v2/<name>/manifests/<digest>', s.fx.manifests[i]!.digest), 405);
          });
        }
      };
      if (s.settings.deleteManifestBeforeBlobs) deleteManifests();

      for (const i of [0, 1]) {
        it(`Delete config[${i}] blob created in setup`, async () => {
          expect2xxOr(await deleteAt(s, '/v2/<name>/blobs/<digest>', s.fx.configs[i]!.digest), 404, 405);
        });
      }

      it('Delete layer blob created in setup', async () => {
        expect2xxOr(await deleteAt(s, '/v2/<name>/blobs/<digest>', s.fx.layerBlobDigest), 404, 405);
      });

      if (!s.settings.deleteManifestBeforeBlobs) deleteManifests();
    });
  });
}
