import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { assertErrorBody, expectRawError } from '../helpers/assertions.ts';
import { ociImage, sha256 } from '../helpers/oci.ts';
import { listTree, rawRequest } from '../helpers/raw-http.ts';
import { startTestRegistry, type TestRegistry } from '../helpers/registry.ts';

/**
 * Traversal attempts sent as raw paths (fetch would normalise them). The storage root is nested
 * two levels inside a sandbox, so an escape of one to three `..` would land in the sandbox,
 * where the test can see it; a marker in every attempt catches anything landing elsewhere.
 */
describe('path traversal never reaches the filesystem', () => {
  let sandbox: string;
  let root: string;
  let running: TestRegistry;
  let before_: string[];
  const marker = `escape${randomBytes(4).toString('hex')}`;
  const manifest = ociImage({ layers: 0 }).manifest;

  before(async () => {
    sandbox = await mkdtemp(path.join(tmpdir(), 'dockyard-traversal-'));
    root = path.join(sandbox, 'store', 'root');
    await mkdir(root, { recursive: true });
    running = await startTestRegistry({ storage: { filesystem: { rootdirectory: root } } });
    before_ = await listTree(sandbox);
  });
  after(async () => {
    await running.stop();
    await rm(sandbox, { recursive: true, force: true });
  });

  const names = [
    `../${marker}`,
    `../../${marker}`,
    `../../../${marker}`,
    `a/../../../${marker}`,
    `%2e%2e/${marker}`,
    `%2e%2e%2f%2e%2e%2f${marker}`,
    `%2E%2E%2F%2E%2E%2F%2E%2E%2F${marker}`,
    `a%2F..%2F..%2F${marker}`,
    `a%2f%2e%2e%2f%2e%2e%2f%2e%2e%2f${marker}`,
    `..%5c..%5c${marker}`,
    `a\\..\\..\\${marker}`,
    `%252e%252e%252f${marker}`,
    `.%2e/.%2e/${marker}`,
    `${marker}%00/../x`,
    `/${marker}`,
    `./${marker}`,
    `${'a/'.repeat(3000)}${marker}`,
    `${'..%2f'.repeat(500)}${marker}`,
  ];

  const endpoints: [string, (name: string) => string, boolean][] = [
    ['POST', (n) => `/v2/${n}/blobs/uploads/`, false],
    ['POST', (n) => `/v2/${n}/blobs/uploads/?digest=${sha256('x')}`, true],
    ['PUT', (n) => `/v2/${n}/manifests/latest`, true],
    ['GET', (n) => `/v2/${n}/manifests/latest`, false],
    ['DELETE', (n) => `/v2/${n}/manifests/latest`, false],
    ['GET', (n) => `/v2/${n}/tags/list`, false],
    ['GET', (n) => `/v2/${n}/referrers/${sha256('x')}`, false],
    ['GET', (n) => `/v2/${n}/blobs/${sha256('x')}`, false],
  ];

  it('refuses traversal in repository names on every endpoint with 400 NAME_INVALID', async () => {
    for (const name of names) {
      for (const [method, make, withBody] of endpoints) {
        const p = make(name);
        const res = await rawRequest(running.url, {
          method,
          path: p,
          headers: withBody ? { 'content-type': 'application/vnd.oci.image.manifest.v1+json' } : {},
          body: withBody ? manifest : undefined,
        });
        expectRawError(res, 400, 'NAME_INVALID', `${method} ${p.slice(0, 120)}`);
      }
    }
  });

  it('refuses traversal in tags, digests and upload ids', async () => {
    const attempts: [string, string][] = [
      ['PUT', `/v2/ok/manifests/..`],
      ['PUT', `/v2/ok/manifests/%2e%2e`],
      ['PUT', `/v2/ok/manifests/%2e%2e%2f%2e%2e%2f${marker}`],
      ['PUT', `/v2/ok/manifests/..%2f..%2f..%2f${marker}`],
      ['PUT', `/v2/ok/manifests/a%5c..%5c${marker}`],
      ['GET', `/v2/ok/blobs/sha256:..%2f..%2f${marker}`],
      ['GET', `/v2/ok/blobs/sha256%3a..%2f${marker}`],
      ['GET', `/v2/ok/referrers/sha256:${'a'.repeat(60)}%2f..`],
      ['GET', `/v2/ok/blobs/uploads/..%2f..%2f${marker}`],
      ['PATCH', `/v2/ok/blobs/uploads/%2e%2e%2f%2e%2e%2f${marker}`],
      ['PUT', `/v2/ok/blobs/uploads/..?digest=${sha256('x')}`],
      ['DELETE', `/v2/ok/blobs/uploads/%2e%2e`],
    ];
    for (const [method, p] of attempts) {
      const res = await rawRequest(running.url, {
        method,
        path: p,
        headers: { 'content-type': 'application/vnd.oci.image.manifest.v1+json' },
        body: method === 'GET' || method === 'DELETE' ? undefined : manifest,
      });
      assert.ok(res.status >= 400 && res.status < 500, `${method} ${p}: status ${res.status}`);
      assertErrorBody(res.json(), `${method} ${p}`);
    }
  });

  it('left the storage root and its surroundings exactly as they were', async () => {
    assert.deepEqual(await listTree(sandbox), before_);
    const everything = [...(await listTree(sandbox)), ...(await readdir(tmpdir()))];
    assert.deepEqual(everything.filter((p) => p.includes(marker)), []);
  });
});
