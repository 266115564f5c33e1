import assert from 'node:assert/strict';
import { after, before, type TestContext } from 'node:test';
import { startTestRegistry, type TestRegistry } from '../helpers/registry.ts';
import { buildFixtures, settingsFromEnv, type Fixtures, type Settings } from './fixtures.ts';
import { Client, type Response } from './reggie.ts';

/**
 * What the workflows share, like the suite's package-level `client` and fixtures. `client` is
 * set in `before`, so workflows read it inside their tests, never while registering them.
 */
export interface Suite {
  readonly client: Client;
  readonly fx: Fixtures;
  readonly settings: Settings;
}

/** Starts one registry for the enclosing describe (delete enabled) and stops it after. */
export function withRegistry(framing?: 'chunked' | 'length'): Suite {
  let registry: TestRegistry | undefined;
  let client: Client | undefined;
  const suite: Suite = {
    get client(): Client {
      if (!client) throw new Error('the registry is not started');
      return client;
    },
    fx: buildFixtures(),
    settings: settingsFromEnv(),
  };
  before(async () => {
    registry = await startTestRegistry({ storage: { delete: { enabled: true } } });
    client = new Client(registry.url, suite.settings.namespace, framing);
  });
  after(async () => {
    client?.close();
    await registry?.stop();
  });
  return suite;
}

/**
 * The suite's RunOnlyIf on a condition known only at run time (an earlier response): where
 * Ginkgo would skip the spec, this notes it in the test's diagnostics and passes.
 */
export function runOnlyIf(t: TestContext, condition: boolean, why: string): boolean {
  if (!condition) t.diagnostic(`SUITE WOULD SKIP THIS SPEC (RunOnlyIf false): ${why}`);
  return condition;
}

/** The suite's Warn(): reported, not failed. */
export function warn(t: TestContext, message: string): void {
  t.diagnostic(`WARNING: ${message}`);
}

const is2xx = (s: number) => s >= 200 && s < 300;

/** Expect(resp.StatusCode()).To(Equal(code)) or SatisfyAny(Equal(...)...). */
export function expectStatus(resp: Response, ...codes: number[]): void {
  assert.ok(codes.includes(resp.status), `expected status ${codes.join(' or ')}, got ${resp.status}\n${resp.dump()}`);
}

/** SatisfyAll(BeNumerically(">=", 200), BeNumerically("<", 300)). */
export function expect2xx(resp: Response): void {
  assert.ok(is2xx(resp.status), `expected a 2xx status, got ${resp.status}\n${resp.dump()}`);
}

/** SatisfyAny(SatisfyAll(>=200, <300), Equal(code)...). */
export function expect2xxOr(resp: Response, ...codes: number[]): void {
  assert.ok(
    is2xx(resp.status) || codes.includes(resp.status),
    `expected a 2xx status or ${codes.join(' or ')}, got ${resp.status}\n${resp.dump()}`,
  );
}

/** Expect(resp.Header().Get(name)).To(Equal(value)). */
export function expectHeader(resp: Response, name: string, value: string): void {
  assert.equal(resp.header(name), value, `header ${name}: expected ${JSON.stringify(value)}, got ${JSON.stringify(resp.header(name))}\n${resp.dump()}`);
}

/** Expect(resp.Header().Get(name)).ToNot(BeEmpty()). */
export function expectHeaderNotEmpty(resp: Response, name: string): void {
  assert.notEqual(resp.header(name), '', `header ${name} should not be empty\n${resp.dump()}`);
}

/** `if h := resp.Header().Get("Docker-Content-Digest"); h != "" { Expect(h).To(Equal(d)) }`. */
export function expectDigestHeaderIfPresent(resp: Response, digest: string): void {
  const h = resp.header('Docker-Content-Digest');
  if (h !== '') assert.equal(h, digest, `Docker-Content-Digest: expected ${digest}, got ${h}\n${resp.dump()}`);
}

/** Expect(x).ToNot(BeNil()) on a response a previous spec should have left. */
export function required<T>(value: T | undefined, what: string): T {
  assert.ok(value !== undefined, `${what} is nil: the spec that sets it did not get that far`);
  return value;
}

/** The suite's recurring "POST an upload, then PUT the blob to its Location with ?digest=" (POST status unchecked, as in Go). */
export async function uploadBlob(s: Suite, content: Buffer, digest: string, contentLength: string): Promise<Response> {
  const c = s.client;
  const post = await c.do(c.newRequest('POST', '/v2/<name>/blobs/uploads/'));
  return c.do(
    c
      .newRequest('PUT', post.relativeLocation())
      .setQueryParam('digest', digest)
      .setHeader('Content-Type', 'application/octet-stream')
      .setHeader('Content-Length', contentLength)
      .setBody(content),
  );
}

/** PUT /v2/<name>/manifests/<reference> with the given Content-Type. */
export function putManifest(s: Suite, reference: string, content: Buffer, contentType: string): Promise<Response> {
  const c = s.client;
  return c.do(c.newRequest('PUT', '/v2/<name>/manifests/<reference>', { reference }).setHeader('Content-Type', contentType).setBody(content));
}

/** DELETE on a path with <digest> (or <reference>) substituted. */
export function deleteAt(s: Suite, path: string, ref: string): Promise<Response> {
  const c = s.client;
  return c.do(c.newRequest('DELETE', path, { digest: ref, reference: ref }));
}
