import assert from 'node:assert/strict';
import { createPublicKey } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { before, describe, it } from 'node:test';
import { calculateJwkThumbprint, exportJWK } from 'jose';
import { parseConfig } from '../../src/config/load.ts';
import { randomBlob } from '../helpers/oci.ts';
import { startTestRegistry } from '../helpers/registry.ts';
import { suiteFixture } from '../helpers/suite-fixture.ts';
import { libtrustKeyId, makeCertificateChain, repositoryAccess, TestIssuer } from './issuer.ts';
import { BearerClient, chainFiles, expectInvalidToken, issueCertificate, REALM, tokenAuth, useTempDir } from './verification-support.ts';
import { configError } from '../helpers/config-error.ts';

/**
 * Where the registry's trust in a token comes from besides a JWKS file: a root certificate bundle
 * (x5c chains and libtrust key ids), the signing-algorithm allow-list, and the configurations
 * refused at start.
 */

const REPO = 'trust/app';
const FULL = [repositoryAccess(REPO, 'pull', 'push')];

/**
 * A temp directory, what `make` builds in it, and a registry started with the `auth` it returns,
 * for the describe block this is called in; the registry is stopped before the directory goes.
 */
function useTrustFixture<T>(make: (dir: string) => Promise<T & { auth: Record<string, unknown> }>) {
  return suiteFixture(
    'the trust fixtures and registry',
    async () => {
      const dir = await mkdtemp(path.join(tmpdir(), 'dockyard-trust-'));
      try {
        const made = await make(dir);
        return { ...made, dir, registry: await startTestRegistry({ auth: made.auth }) };
      } catch (err) {
        await rm(dir, { recursive: true, force: true });
        throw err;
      }
    },
    async ({ dir, registry }) => {
      await registry.stop();
      await rm(dir, { recursive: true, force: true });
    },
  );
}

describe('bearer tokens trusted through a root certificate bundle', { timeout: 60_000 }, () => {
  const fx = useTrustFixture(async (dir) => {
    const issuer = await TestIssuer.create(dir);
    const [chain, other] = await Promise.all([makeCertificateChain(dir, 'ca'), makeCertificateChain(dir, 'other')]);
    const files = await chainFiles(dir, 'ca');
    const [intermediate, nonCa] = await Promise.all([
      issueCertificate(dir, 'intermediate-ca', files.ca, 'ca'),
      issueCertificate(dir, 'non-ca-claiming-keycertsign', files.ca, 'leaf claiming keyCertSign'),
    ]);
    const [belowIntermediate, belowLeaf, belowNonCa] = await Promise.all([
      issueCertificate(dir, 'signer-below-intermediate', intermediate, 'leaf'),
      issueCertificate(dir, 'signer-below-leaf', files.leaf, 'leaf'),
      issueCertificate(dir, 'signer-below-non-ca', nonCa, 'leaf'),
    ]);
    return { issuer, chain, other, intermediate, belowIntermediate, belowLeaf, nonCa, belowNonCa, auth: tokenAuth(issuer, { rootcertbundle: chain.bundlePath }) };
  });
  const as = (token: string) => new BearerClient(fx().registry.url, token);
  const caPublicKey = () => createPublicKey(fx().chain.caKey);
  const sign = (opts: Parameters<TestIssuer['sign']>[1]) => fx().issuer.sign(FULL, opts);

  it('accepts a token signed by the leaf key with an x5c chain to the bundle, and honours its access', async () => {
    const client = as(await sign({ key: fx().chain.leafKey, header: { kid: undefined, x5c: fx().chain.leafChain } }));
    assert.equal((await client.fetch('/v2/')).status, 200);
    const blob = randomBlob(128);
    assert.equal((await client.pushBlob(REPO, blob.data, blob.digest)).status, 201);
    assert.equal((await client.fetch(`/v2/${REPO}/blobs/${blob.digest}`)).status, 200);
  });

  it('accepts a token whose x5c chain runs through an intermediate CA to the bundle', async () => {
    const { belowIntermediate, intermediate } = fx();
    const x5c = [belowIntermediate.der, intermediate.der].map((der) => der.toString('base64'));
    assert.equal((await as(await sign({ key: belowIntermediate.key, header: { kid: undefined, x5c } })).fetch('/v2/')).status, 200);
  });

  it('accepts a token signed by the CA key whose kid is the libtrust key id of the CA public key', async () => {
    const token = await sign({ key: fx().chain.caKey, header: { kid: libtrustKeyId(caPublicKey()) } });
    assert.equal((await as(token).fetch('/v2/')).status, 200);
  });

  it('accepts a token signed by the CA key whose kid is the RFC 7638 thumbprint of the CA public key', async () => {
    const kid = await calculateJwkThumbprint(await exportJWK(caPublicKey()));
    assert.equal((await as(await sign({ key: fx().chain.caKey, header: { kid } })).fetch('/v2/')).status, 200);
  });

  it('refuses with 401 invalid_token a token whose x5c leaf was not issued by a bundled CA', async () => {
    const token = await sign({ key: fx().other.leafKey, header: { kid: undefined, x5c: fx().other.leafChain } });
    await expectInvalidToken(await as(token).fetch('/v2/'), 'x5c of another CA’s leaf');
    await expectInvalidToken(await as(token).fetch(`/v2/${REPO}/blobs/uploads/`, { method: 'POST' }), 'x5c of another CA’s leaf: upload POST');
  });

  it('refuses with 401 invalid_token a token whose x5c chain ends in a CA that is not bundled', async () => {
    const x5c = [...fx().other.leafChain, fx().other.caCertDer.toString('base64')];
    const token = await sign({ key: fx().other.leafKey, header: { kid: undefined, x5c } });
    await expectInvalidToken(await as(token).fetch('/v2/'), 'x5c chain to an untrusted CA');
  });

  it('refuses with 401 invalid_token a token carrying the trusted leaf in x5c but signed by another key', async () => {
    const token = await sign({ key: fx().other.leafKey, header: { kid: undefined, x5c: fx().chain.leafChain } });
    await expectInvalidToken(await as(token).fetch('/v2/'), 'trusted x5c, foreign signature');
  });

  it('refuses with 401 invalid_token an x5c chain through the trusted leaf, which is no CA', async () => {
    const { belowLeaf } = fx();
    const x5c = [belowLeaf.der.toString('base64'), ...fx().chain.leafChain];
    await expectInvalidToken(await as(await sign({ key: belowLeaf.key, header: { kid: undefined, x5c } })).fetch('/v2/'), 'chain through a CA:FALSE leaf');
  });

  it('refuses with 401 invalid_token an x5c chain through a CA:FALSE certificate whose key usage claims keyCertSign', async () => {
    const { belowNonCa, nonCa } = fx();
    const x5c = [belowNonCa.der, nonCa.der].map((der) => der.toString('base64'));
    await expectInvalidToken(await as(await sign({ key: belowNonCa.key, header: { kid: undefined, x5c } })).fetch('/v2/'), 'chain through CA:FALSE + keyCertSign');
  });

  it('refuses with 401 invalid_token a token whose kid matches no bundled key', async () => {
    const token = await sign({ key: fx().other.caKey, header: { kid: libtrustKeyId(createPublicKey(fx().other.caKey)) } });
    await expectInvalidToken(await as(token).fetch('/v2/'), 'kid of an unbundled key');
    await expectInvalidToken(await as(token).fetch(`/v2/${REPO}/manifests/v1`), 'kid of an unbundled key: GET manifest');
  });
});

describe('auth.token.signingalgorithms', { timeout: 60_000 }, () => {
  const fx = useTrustFixture(async (dir) => {
    const es = await TestIssuer.create(dir, { alg: 'ES256', name: 'es' });
    const rs = await TestIssuer.create(dir, { alg: 'RS256', name: 'rs' });
    // One JWKS file holding both keys, so only the allow-list decides.
    const keys = await Promise.all([es, rs].map(async (i) => (JSON.parse(await readFile(i.jwksPath, 'utf8')) as { keys: unknown[] }).keys));
    const jwks = path.join(dir, 'both-jwks.json');
    await writeFile(jwks, JSON.stringify({ keys: keys.flat() }));
    return { es, rs, auth: tokenAuth(es, { jwks, signingalgorithms: ['RS256'] }) };
  });

  it('accepts an RS256 token when the allow-list is [RS256]', async () => {
    assert.equal((await new BearerClient(fx().registry.url, await fx().rs.sign(FULL)).fetch('/v2/')).status, 200);
  });

  it('refuses an ES256 token from a trusted key with 401 invalid_token when the allow-list is [RS256]', async () => {
    const client = new BearerClient(fx().registry.url, await fx().es.sign(FULL));
    await expectInvalidToken(await client.fetch('/v2/'), 'ES256 token, allow-list RS256');
    await expectInvalidToken(await client.fetch(`/v2/${REPO}/manifests/v1`), 'ES256 token, allow-list RS256: GET manifest');
  });
});

describe('auth.token configuration refused at start', () => {
  const dir = useTempDir();
  let jwks: string;
  before(async () => {
    jwks = (await TestIssuer.create(dir())).jwksPath;
  });
  const token = (extra: Record<string, unknown>) => ({ auth: { token: { realm: REALM, service: 'svc', issuer: 'iss', jwks, ...extra } } });

  it('accepts a token configuration with an absolute realm URL and an allowed algorithm', () => {
    parseConfig(token({ signingalgorithms: ['ES256', 'RS256'] }));
  });

  it('refuses a realm that is not a URL, naming auth.token.realm', () => {
    assert.match(configError(() => parseConfig(token({ realm: 'not a url' }))), /auth\.token\.realm/);
  });

  for (const alg of ['HS256', 'none']) {
    it(`refuses signingalgorithms [${alg}], naming auth.token.signingalgorithms`, () => {
      assert.match(configError(() => parseConfig(token({ signingalgorithms: [alg] }))), /auth\.token\.signingalgorithms/);
    });
  }

  it('refuses auth.token without any key source, naming auth.token', () => {
    const noKeys = { auth: { token: { realm: REALM, service: 'svc', issuer: 'iss' } } };
    assert.match(configError(() => parseConfig(noKeys)), /auth\.token/);
  });
});
