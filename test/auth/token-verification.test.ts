import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import { exportJWK } from 'jose';
import type { Event } from '../../src/notify/event.ts';
import { expectError } from '../helpers/assertions.ts';
import { bytes, Client } from '../helpers/client.ts';
import { ociImage, randomBlob, sha256 } from '../helpers/oci.ts';
import { summary } from '../helpers/receiver.ts';
import { suiteFixture } from '../helpers/suite-fixture.ts';
import { startWithReceiver } from '../notify/support.ts';
import { repositoryAccess, TestIssuer } from './issuer.ts';
import {
  BearerClient, challenge, eventsSettled, expectInvalidToken, hmacCopy, sameBlobsManifest, tokenAuth, unsignedCopy,
  withChangedPayload, withFlippedSignatureBit,
} from './verification-support.ts';

/**
 * A registry that trusts an external token issuer through a JWKS file: what a good token allows,
 * every kind of forged or untrusted token refused with 401 and changing nothing, the challenges
 * sent without a token, and 403 for a good token lacking the scope. A real webhook receiver
 * proves refused requests emit no event.
 */

const REPO = 'verify/app';
const FULL = [repositoryAccess(REPO, 'pull', 'push')];
/** The subject of every token an attacker sends: no event may ever name it. */
const MALLORY = 'mallory';
const now = () => Math.floor(Date.now() / 1000);

describe('bearer tokens from an external issuer (JWKS)', { timeout: 60_000 }, () => {
  const fx = suiteFixture(
    'an issuer and a registry trusting it',
    async () => {
      const dir = await mkdtemp(path.join(tmpdir(), 'dockyard-auth-'));
      try {
        const issuer = await TestIssuer.create(dir);
        const h = await startWithReceiver({ config: { auth: tokenAuth(issuer) } });
        const control = new BearerClient(h.registry.url, await issuer.sign(FULL));
        const base = await control.pushImage(REPO, 'v1', ociImage({ layers: 1 }));
        return { dir, issuer, h, control, base };
      } catch (err) {
        await rm(dir, { recursive: true, force: true });
        throw err;
      }
    },
    async ({ dir, h }) => {
      await h.stop();
      await rm(dir, { recursive: true, force: true });
    },
  );
  const as = (token: string) => new BearerClient(fx().h.registry.url, token);

  /** Tries a single-request blob push and a manifest push (of a manifest over existing blobs) to a fresh tag. */
  async function attemptPush(client: Client, tag: string, check: (res: Response, where: string) => Promise<unknown>) {
    const blob = randomBlob(256);
    const forged = sameBlobsManifest(fx().base, tag);
    const post = await client.fetch(`/v2/${REPO}/blobs/uploads/?digest=${encodeURIComponent(blob.digest)}`, {
      method: 'POST',
      body: bytes(blob.data),
      headers: { 'content-type': 'application/octet-stream' },
    });
    await check(post, `blob upload POST (${tag})`);
    await check(await client.pushManifest(REPO, tag, forged.manifest, forged.mediaType), `manifest PUT ${tag}`);
    return { tag, blob, forged };
  }

  /** The tag, the manifest and the blob are absent, and no event names them or the attacker. */
  async function assertNothingStored({ tag, blob, forged }: Awaited<ReturnType<typeof attemptPush>>) {
    const { control, h } = fx();
    await expectError(await control.fetch(`/v2/${REPO}/manifests/${tag}`), 404, 'MANIFEST_UNKNOWN', `tag ${tag} afterwards`);
    await expectError(await control.fetch(`/v2/${REPO}/manifests/${forged.digest}`), 404, 'MANIFEST_UNKNOWN', 'forged manifest afterwards');
    await expectError(await control.fetch(`/v2/${REPO}/blobs/${blob.digest}`), 404, 'BLOB_UNKNOWN', 'blob afterwards');
    const named = (e: Event) => e.target.tag === tag || e.target.digest === blob.digest || e.target.digest === forged.digest;
    const leaked = (await eventsSettled(h.receiver, control, REPO)).filter((e) => e.actor.name === MALLORY || (e.action === 'push' && named(e)));
    assert.deepEqual(leaked.map((e) => summary([e])), [], 'events of refused requests');
  }

  describe('a correctly signed token', () => {
    it('lets a client push a blob and a manifest with repository:<name>:pull,push, and pull them back', async () => {
      const { control } = fx();
      const image = await control.pushImage(REPO, 'control', ociImage({ layers: 1 }));
      const manifest = await control.fetch(`/v2/${REPO}/manifests/control`, { headers: { accept: image.mediaType } });
      assert.equal(manifest.status, 200);
      assert.equal(manifest.headers.get('docker-content-digest'), image.digest);
      assert.ok(Buffer.from(await manifest.arrayBuffer()).equals(image.manifest), 'manifest bytes');
      for (const blob of [image.config, ...image.layers]) {
        const res = await control.fetch(`/v2/${REPO}/blobs/${blob.digest}`);
        assert.equal(res.status, 200, `blob ${blob.digest}`);
        assert.ok(Buffer.from(await res.arrayBuffer()).equals(blob.data), `blob ${blob.digest} bytes`);
      }
    });

    it('answers GET /v2/ with 200, even for a token granting no access at all', async () => {
      assert.equal((await fx().control.fetch('/v2/')).status, 200);
      assert.equal((await as(await fx().issuer.sign([])).fetch('/v2/')).status, 200);
    });

    it('names the token subject as the actor of its push events', async () => {
      const blob = randomBlob(64);
      assert.equal((await fx().control.pushBlob(REPO, blob.data, blob.digest)).status, 201);
      const events = await eventsSettled(fx().h.receiver, fx().control, REPO);
      const pushed = events.find((e) => e.action === 'push' && e.target.digest === blob.digest);
      assert.ok(pushed, `no push event for ${blob.digest}: ${summary(events)}`);
      assert.equal(pushed.actor.name, 'alice');
    });

    it('accepts an aud array that contains the service', async () => {
      const token = await fx().issuer.sign(FULL, { claims: { aud: ['another-registry', fx().issuer.service] } });
      assert.equal((await as(token).fetch(`/v2/${REPO}/manifests/v1`)).status, 200);
    });

    it('accepts a token that expired 20 s ago, within the 60 s leeway', async () => {
      const token = await fx().issuer.sign(FULL, { claims: { exp: now() - 20, nbf: now() - 300, iat: now() - 300 } });
      assert.equal((await as(token).fetch(`/v2/${REPO}/manifests/v1`)).status, 200);
    });
  });

  describe('a token that must not be trusted', () => {
    const stranger = () => generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const sign = (claims: Record<string, unknown> = {}, header: Record<string, unknown> = {}, key?: ReturnType<typeof stranger>['privateKey']) =>
      fx().issuer.sign(FULL, { claims: { sub: MALLORY, ...claims }, header, ...(key ? { key } : {}) });
    const attacks: [string, () => Promise<string>][] = [
      ['an expired token (exp two minutes ago)', () => sign({ exp: now() - 120, nbf: now() - 600, iat: now() - 600 })],
      ['a token not valid yet (nbf ten minutes ahead)', () => sign({ nbf: now() + 600, iat: now(), exp: now() + 900 })],
      ['a token without exp', () => sign({ exp: undefined })],
      ['a token for another audience', () => sign({ aud: 'another-registry' })],
      ['a token from another issuer', () => sign({ iss: 'another-issuer' })],
      ['a token signed by the trusted key under an unknown kid', () => sign({}, { kid: 'no-such-key' })],
      ['a token signed by a stranger’s key under the trusted kid', () => sign({}, {}, stranger().privateKey)],
      ['an unsigned token (alg none)', async () => unsignedCopy(await sign())],
      ['a token with one bit of its signature flipped', async () => withFlippedSignatureBit(await sign())],
      [
        'a token whose payload was re-encoded with more access, signature kept',
        async () => withChangedPayload(await fx().issuer.sign([repositoryAccess('verify/elsewhere', 'pull')], { claims: { sub: MALLORY } }), (p) => ({ ...p, access: FULL })),
      ],
      ...(['without a kid', 'under the trusted kid'] as const).map((how): [string, () => Promise<string>] => [
        `a token carrying the attacker’s own key in a jwk header, ${how}`,
        async () => {
          const keys = stranger();
          const jwk = await exportJWK(keys.publicKey);
          return sign({}, { jwk, kid: how === 'without a kid' ? undefined : fx().issuer.kid }, keys.privateKey);
        },
      ]),
      ['an HS256 token keyed with the issuer’s public key as PEM', async () => hmacCopy(await sign(), fx().issuer.publicKey.export({ type: 'spki', format: 'pem' }))],
      ['an HS256 token keyed with the issuer’s public key as SPKI DER', async () => hmacCopy(await sign(), fx().issuer.publicKey.export({ type: 'spki', format: 'der' }))],
    ];

    for (const [i, [what, forge]] of attacks.entries()) {
      it(`refuses ${what} with 401 invalid_token on GET /v2/, a pull and a push, and stores nothing`, async () => {
        const mallory = as(await forge());
        await expectInvalidToken(await mallory.fetch('/v2/'), `${what}: GET /v2/`);
        await expectInvalidToken(await mallory.fetch(`/v2/${REPO}/manifests/v1`), `${what}: GET manifest v1`);
        const attempt = await attemptPush(mallory, `attack-${i}`, (res, where) => expectInvalidToken(res, `${what}: ${where}`));
        await assertNothingStored(attempt);
      });
    }
  });

  describe('a request without a token', () => {
    const cases: [string, string, string, string | undefined][] = [
      ['GET', `/v2/${REPO}/manifests/x`, 'a manifest GET', `repository:${REPO}:pull`],
      ['POST', `/v2/${REPO}/blobs/uploads/`, 'a blob upload POST', `repository:${REPO}:pull,push`],
      ['DELETE', `/v2/${REPO}/manifests/${sha256('anything')}`, 'a manifest DELETE', `repository:${REPO}:delete`],
      ['GET', '/v2/_catalog', 'GET /v2/_catalog', 'registry:catalog:*'],
      ['GET', '/v2/', 'GET /v2/', undefined],
    ];
    for (const [method, p, what, scope] of cases) {
      it(`answers ${what} with 401 and a Bearer challenge ${scope === undefined ? 'without a scope' : `for ${scope}`}`, async () => {
        const res = await new Client(fx().h.registry.url).fetch(p, { method });
        await expectError(res, 401, 'UNAUTHORIZED', `${method} ${p}`);
        assert.equal(res.headers.get('www-authenticate'), challenge(fx().issuer.service, scope), `${method} ${p}`);
      });
    }
  });

  describe('a valid token without the needed scope', () => {
    const denied = (res: Response, where: string) => expectError(res, 403, 'DENIED', where);

    it('refuses a push with a pull-only token with 403 DENIED and stores nothing', async () => {
      const pullOnly = as(await fx().issuer.sign([repositoryAccess(REPO, 'pull')], { claims: { sub: MALLORY } }));
      await assertNothingStored(await attemptPush(pullOnly, 'scope-pull-only', denied));
    });

    it('refuses a pull and a push with a token for another repository with 403 DENIED and stores nothing', async () => {
      const other = as(await fx().issuer.sign([repositoryAccess('verify/other', 'pull', 'push')], { claims: { sub: MALLORY } }));
      await denied(await other.fetch(`/v2/${REPO}/manifests/v1`), 'GET manifest v1');
      await assertNothingStored(await attemptPush(other, 'scope-other-repo', denied));
    });

    it('reads the access claim’s names exactly, not as patterns (403 DENIED for verify/* and verify/**)', async () => {
      const globs = as(await fx().issuer.sign(['verify/*', 'verify/**', 'verify'].map((n) => repositoryAccess(n, 'pull', 'push')), { claims: { sub: MALLORY } }));
      await denied(await globs.fetch(`/v2/${REPO}/manifests/v1`), 'GET manifest v1 with pattern access');
      await assertNothingStored(await attemptPush(globs, 'scope-patterns', denied));
    });

    it('refuses GET /v2/_catalog with a repository-only token with 403 DENIED', async () => {
      await denied(await fx().control.fetch('/v2/_catalog'), 'GET /v2/_catalog');
    });

    it('lets a pull-only token pull', async () => {
      const pullOnly = as(await fx().issuer.sign([repositoryAccess(REPO, 'pull')], { claims: { sub: 'bob' } }));
      const res = await pullOnly.fetch(`/v2/${REPO}/manifests/v1`);
      assert.equal(res.status, 200);
      assert.equal(res.headers.get('docker-content-digest'), fx().base.digest);
    });

    // Last: were the DELETE let through, the image the other tests pull would be gone.
    it('refuses a manifest DELETE with a pull,push token with 403 DENIED and keeps the manifest', async () => {
      const { control, base } = fx();
      await denied(await control.fetch(`/v2/${REPO}/manifests/${base.digest}`, { method: 'DELETE' }), 'DELETE manifest');
      assert.equal((await control.fetch(`/v2/${REPO}/manifests/v1`)).status, 200);
    });
  });
});
