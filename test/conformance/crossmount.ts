import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { dummyDigest } from './fixtures.ts';
import { expectStatus, required, runOnlyIf, type Suite } from './harness.ts';
import type { Response } from './reggie.ts';

/** 02_push_test.go, context "Cross-Repository Blob Mount" (shares the Push workflow's lastResponse). */
export function registerCrossMount(s: Suite, state: { last: Response | undefined }): void {
  describe('Cross-Repository Blob Mount', () => {
    const cross = () => s.settings.crossmountNamespace;

    it('Cross-mounting of a blob without the from argument should yield session id', async () => {
      const c = s.client;
      const resp = await c.do(c.newRequest('POST', '/v2/<name>/blobs/uploads/', { name: cross() }).setQueryParam('mount', dummyDigest));
      expectStatus(resp, 202);
      assert.notEqual(resp.absoluteLocation(), '', `Location should not be empty\n${resp.dump()}`);
    });

    it("POST request to mount another repository's blob should return 201 or 202", async () => {
      const c = s.client;
      const resp = await c.do(
        c
          .newRequest('POST', '/v2/<name>/blobs/uploads/', { name: cross() })
          .setQueryParam('mount', s.fx.testBlobADigest)
          .setQueryParam('from', s.settings.namespace),
      );
      expectStatus(resp, 201, 202);
      state.last = resp;
    });

    it('GET request to test digest within cross-mount namespace should return 200', async (t) => {
      const c = s.client;
      const last = required(state.last, 'lastResponse');
      if (!runOnlyIf(t, last.status === 201, `the mount answered ${last.status}, not 201`)) return;
      assert.equal(last.relativeLocation(), `/v2/${cross()}/blobs/${s.fx.testBlobADigest}`, `mount Location\n${last.dump()}`);
      expectStatus(await c.do(c.newRequest('GET', last.relativeLocation())), 200);
    });

    it('Cross-mounting of nonexistent blob should yield session id', async (t) => {
      const last = required(state.last, 'lastResponse');
      if (!runOnlyIf(t, last.status === 202, `the mount answered ${last.status}, not 202`)) return;
      assert.ok(last.relativeLocation().startsWith(`/v2/${cross()}/blobs/uploads/`), `mount Location\n${last.dump()}`);
    });

    if (s.settings.runAutomaticCrossmountTest && s.settings.automaticCrossmountEnabled) {
      it('Cross-mounting without from, and automatic content discovery enabled should return a 201', async (t) => {
        const c = s.client;
        const last = required(state.last, 'lastResponse');
        if (!runOnlyIf(t, last.status === 201, `the mount with from answered ${last.status}, not 201`)) return;
        const resp = await c.do(c.newRequest('POST', '/v2/<name>/blobs/uploads/', { name: cross() }).setQueryParam('mount', s.fx.testBlobADigest));
        expectStatus(resp, 201);
      });
    }

    if (s.settings.runAutomaticCrossmountTest && !s.settings.automaticCrossmountEnabled) {
      it('Cross-mounting without from, and automatic content discovery disabled should return a 202', async (t) => {
        const c = s.client;
        const last = required(state.last, 'lastResponse');
        if (!runOnlyIf(t, last.status === 201, `the mount with from answered ${last.status}, not 201`)) return;
        const resp = await c.do(c.newRequest('POST', '/v2/<name>/blobs/uploads/', { name: cross() }).setQueryParam('mount', s.fx.testBlobADigest));
        expectStatus(resp, 202);
      });
    }
  });
}
