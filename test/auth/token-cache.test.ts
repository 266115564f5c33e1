import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { VerifiedTokenCache } from '../../src/auth/token-cache.ts';
import { CLOCK_SKEW_SECONDS, InvalidTokenError, TokenVerifier } from '../../src/auth/token-verifier.ts';
import { repositoryAccess, TestIssuer } from './issuer.ts';
import { withFlippedSignatureBit } from './verification-support.ts';

describe('verified tokens are kept until they expire', { timeout: 30_000 }, () => {
  let dir: string;
  let issuer: TestIssuer;
  let verifier: TokenVerifier;

  before(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'dockyard-token-cache-'));
    issuer = await TestIssuer.create(dir);
    verifier = await TokenVerifier.create({ issuer: issuer.issuer, service: issuer.service, algorithms: ['ES256'], jwks: issuer.jwksPath });
  });
  after(() => rm(dir, { recursive: true, force: true }));

  it('answers a second verification of a token with what the first found', async () => {
    const token = await issuer.sign([repositoryAccess('team/app', 'pull')]);
    const first = await verifier.verify(token);
    const second = await verifier.verify(token);
    assert.deepEqual(second, first);
    assert.deepEqual(first, { subject: 'alice', access: [{ type: 'repository', name: 'team/app', actions: ['pull'] }] });
  });

  it('still refuses a token whose signature was tampered with after the good one was kept', async () => {
    const token = await issuer.sign([repositoryAccess('team/app', 'pull', 'push')]);
    await verifier.verify(token);
    await assert.rejects(verifier.verify(withFlippedSignatureBit(token)), InvalidTokenError);
  });

  it('refuses a kept token once it is past exp plus the leeway', async () => {
    // Accepted now (exp 59 s ago, within the 60 s leeway), and kept: refused about a second later.
    const now = Math.floor(Date.now() / 1000);
    const token = await issuer.sign([repositoryAccess('team/app', 'pull')], { claims: { exp: now - (CLOCK_SKEW_SECONDS - 1), nbf: now - 120, iat: now - 120 } });
    await verifier.verify(token);
    await verifier.verify(token);
    const deadline = (now + 1) * 1000 + 50;
    await new Promise((resolve) => setTimeout(resolve, Math.max(0, deadline - Date.now())));
    await assert.rejects(verifier.verify(token), InvalidTokenError);
  });
});

describe('VerifiedTokenCache', () => {
  const verified = { subject: 'alice', access: [] };

  it('misses from the expiry instant on, and forgets the entry', () => {
    const cache = new VerifiedTokenCache();
    cache.set('t', verified, 10_000);
    assert.equal(cache.get('t', 9_999), verified);
    assert.equal(cache.get('t', 10_000), undefined);
    assert.equal(cache.get('t', 0), undefined, 'an expired entry is dropped, not kept for an earlier clock');
  });

  it('keeps at most its bound, dropping the oldest first', () => {
    const cache = new VerifiedTokenCache(2);
    cache.set('a', verified, 10_000);
    cache.set('b', verified, 10_000);
    cache.set('c', verified, 10_000);
    assert.equal(cache.get('a', 0), undefined);
    assert.equal(cache.get('b', 0), verified);
    assert.equal(cache.get('c', 0), verified);
  });
});
