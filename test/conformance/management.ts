import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { MANIFEST_TYPE } from './fixtures.ts';
import { deleteAt, expect2xx, expectStatus, putManifest, runOnlyIf, uploadBlob, type Suite } from './harness.ts';
import type { Response } from './reggie.ts';

/** `json.Unmarshal([]byte(resp.String()), &TagList{})` must succeed; returns len(tagList.Tags). */
function unmarshalTagCount(resp: Response): number {
  let parsed: unknown;
  try {
    parsed = JSON.parse(resp.text());
  } catch (err) {
    assert.fail(`tags list body is not JSON (${(err as Error).message})\n${resp.dump()}`);
  }
  // Unmarshal into a struct accepts null and any object; it fails on other types.
  if (parsed === null) return 0;
  assert.ok(typeof parsed === 'object' && !Array.isArray(parsed), `tags list body is not a JSON object\n${resp.dump()}`);
  const { name, tags } = parsed as { name?: unknown; tags?: unknown };
  assert.ok(name === undefined || name === null || typeof name === 'string', `"name" is not a string\n${resp.dump()}`);
  if (tags === undefined || tags === null) return 0;
  assert.ok(Array.isArray(tags) && tags.every((t) => typeof t === 'string'), `"tags" is not a string array\n${resp.dump()}`);
  return tags.length;
}

/** conformance/04_management_test.go (test04ContentManagement). */
export function test04ContentManagement(s: Suite): void {
  describe('Content Management', () => {
    const defaultTagName = 'tagtest0';
    let tagToDelete = '';
    let numTags = 0;
    let blobDeleteAllowed = true;

    describe('Setup', () => {
      it('Populate registry with test config blob', async () => {
        const c3 = s.fx.configs[3]!;
        expect2xx(await uploadBlob(s, c3.content, c3.digest, c3.contentLength));
      });

      it('Populate registry with test layer', async () => {
        expect2xx(await uploadBlob(s, s.fx.layerBlobData, s.fx.layerBlobDigest, s.fx.layerBlobContentLength));
      });

      it('Populate registry with test tag', async () => {
        tagToDelete = defaultTagName;
        expect2xx(await putManifest(s, tagToDelete, s.fx.manifests[3]!.content, MANIFEST_TYPE));
      });

      it('Check how many tags there are before anything gets deleted', async () => {
        const c = s.client;
        const resp = await c.do(c.newRequest('GET', '/v2/<name>/tags/list'));
        expectStatus(resp, 200);
        numTags = unmarshalTagCount(resp);
      });
    });

    describe('Manifest delete', () => {
      it('DELETE request to manifest tag should return 202, unless tag deletion is disallowed (400/405)', async () => {
        const c = s.client;
        // With tagToDelete "" (setup did not run) reggie leaves <reference> in the path and Do() errors.
        const resp = await c.do(c.newRequest('DELETE', '/v2/<name>/manifests/<reference>', { reference: tagToDelete }));
        expectStatus(resp, 400, 202, 405);
        if (resp.status === 400) {
          const errors = resp.errors();
          assert.ok(errors.length > 0);
          assert.equal(errors[0]!.code, 'UNSUPPORTED', `error code\n${resp.dump()}`);
        }
      });

      it('DELETE request to manifest (digest) should yield 202 response unless already deleted', async () => {
        // In the case that the previous request was accepted, this may or may not fail (which is ok)
        expectStatus(await deleteAt(s, '/v2/<name>/manifests/<digest>', s.fx.manifests[3]!.digest), 202, 404);
      });

      it('GET request to deleted manifest URL should yield 404 response, unless delete is disallowed', async () => {
        const c = s.client;
        expectStatus(await c.do(c.newRequest('GET', '/v2/<name>/manifests/<digest>', { digest: s.fx.manifests[3]!.digest })), 404, 200);
      });

      it('GET request to tags list should reflect manifest deletion', async () => {
        const c = s.client;
        const resp = await c.do(c.newRequest('GET', '/v2/<name>/tags/list'));
        expectStatus(resp, 200);
        const count = unmarshalTagCount(resp);
        assert.ok(count < numTags, `expected fewer than ${numTags} tags, got ${count}\n${resp.dump()}`);
      });
    });

    describe('Blob delete', () => {
      it('DELETE request to blob URL should yield 202 response', async () => {
        // config blob
        let resp = await deleteAt(s, '/v2/<name>/blobs/<digest>', s.fx.configs[3]!.digest);
        expectStatus(resp, 202, 404, 405);
        // layer blob
        resp = await deleteAt(s, '/v2/<name>/blobs/<digest>', s.fx.layerBlobDigest);
        expectStatus(resp, 202, 404, 405);
        if (resp.status === 405) blobDeleteAllowed = false;
      });

      it('GET request to deleted blob URL should yield 404 response', async (t) => {
        if (!runOnlyIf(t, blobDeleteAllowed, 'blob delete answered 405')) return;
        const c = s.client;
        expectStatus(await c.do(c.newRequest('GET', '/v2/<name>/blobs/<digest>', { digest: s.fx.configs[3]!.digest })), 404);
      });
    });

    // "Teardown": no teardown required at this time for content management tests
  });
}
