import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseConfig } from '../../src/config/load.ts';
import { configError } from '../helpers/config-error.ts';

function refusal(raw: Record<string, unknown>, env: NodeJS.ProcessEnv = {}): string {
  return configError(() => parseConfig(raw, env));
}

const token = { realm: 'https://auth.example.com/token', service: 'registry.example.com', issuer: 'auth.example.com', jwks: '/etc/jwks.json' };

describe('configuration: auth', () => {
  it("reads Distribution's htpasswd and token sections unchanged", () => {
    const basic = parseConfig({ auth: { htpasswd: { realm: 'basic-realm', path: '/auth/htpasswd' } } }).config.auth!;
    assert.deepEqual(basic.htpasswd, { realm: 'basic-realm', path: '/auth/htpasswd', admins: [] });
    const bearer = parseConfig({ auth: { token: { ...token, jwks: undefined, rootcertbundle: '/root/certs/bundle' } } }).config.auth!;
    assert.equal(bearer.token!.rootcertbundle, '/root/certs/bundle');
    assert.equal(bearer.token!.autoredirect, false);
    assert.equal(bearer.token!.autoredirectpath, '/auth/token');
  });

  it('reads the token service with its defaults', () => {
    const { tokenservice } = parseConfig({ auth: { token: { ...token, jwks: undefined }, tokenservice: { htpasswd: '/h' } } }).config.auth!;
    assert.equal(tokenservice!.expiration, 5 * 60_000);
    assert.deepEqual(tokenservice!.admins, []);
    assert.deepEqual(tokenservice!.access, []);
    assert.equal(tokenservice!.key, undefined);
  });

  it('takes auth keys from the environment, named the Distribution way', () => {
    const { config } = parseConfig({}, {
      REGISTRY_AUTH_TOKEN_REALM: 'https://auth.example.com/token',
      REGISTRY_AUTH_TOKEN_SERVICE: 'svc',
      REGISTRY_AUTH_TOKEN_ISSUER: 'iss',
      REGISTRY_AUTH_TOKEN_ROOTCERTBUNDLE: '/certs.pem',
      REGISTRY_AUTH_TOKEN_AUTOREDIRECT: 'true',
    });
    assert.equal(config.auth!.token!.service, 'svc');
    assert.equal(config.auth!.token!.autoredirect, true);
  });

  it('refuses htpasswd and token together, naming the key', () => {
    assert.match(refusal({ auth: { htpasswd: { realm: 'r', path: '/p' }, token } }), /"auth\.token".*cannot both be set/);
  });

  it('refuses a token service without auth.token, naming the key', () => {
    assert.match(refusal({ auth: { tokenservice: { htpasswd: '/h' } } }), /"auth\.tokenservice"/);
  });

  it('refuses token auth with no key to verify with', () => {
    assert.match(refusal({ auth: { token: { ...token, jwks: undefined } } }), /"auth\.token".*rootcertbundle, jwks or auth\.tokenservice/);
  });

  it('refuses a realm that is not a URL, naming the key', () => {
    for (const realm of ['not a url', '/auth/token', 'ftp://auth.example.com/token']) {
      assert.match(refusal({ auth: { token: { ...token, realm } } }), /"auth\.token\.realm"/, realm);
    }
  });

  it('refuses symmetric and unsigned algorithms in signingalgorithms', () => {
    for (const alg of ['HS256', 'none', 'HS512']) {
      assert.match(refusal({ auth: { token: { ...token, signingalgorithms: [alg] } } }), /"auth\.token\.signingalgorithms/, alg);
    }
    assert.deepEqual(parseConfig({ auth: { token: { ...token, signingalgorithms: ['ES256', 'EdDSA'] } } }).config.auth!.token!.signingalgorithms, ['ES256', 'EdDSA']);
  });

  it('refuses malformed access rules and trusted proxies, naming the key', () => {
    const rule = { account: 'alice', repositories: ['team/*'], actions: ['pull'] };
    assert.match(refusal({ auth: { token: { ...token }, tokenservice: { htpasswd: '/h', access: [{ ...rule, actions: ['fly'] }] } } }), /auth\.tokenservice\.access\.0\.actions/);
    assert.match(refusal({ auth: { token: { ...token }, tokenservice: { htpasswd: '/h', access: [{ ...rule, repos: ['x'] }] } } }), /"auth\.tokenservice\.access\.0\.repos"/);
    assert.match(refusal({ http: { trustedproxies: ['10.0.0.0/33'] } }), /http\.trustedproxies\.0/);
    assert.match(refusal({ http: { trustedproxies: ['proxy.local'] } }), /http\.trustedproxies\.0/);
    assert.deepEqual(parseConfig({ http: { trustedproxies: ['10.0.0.0/8', '::1', '192.168.1.7'] } }).config.http.trustedproxies, ['10.0.0.0/8', '::1', '192.168.1.7']);
  });
});
