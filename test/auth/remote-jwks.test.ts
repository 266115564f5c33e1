import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { ChildRegistry, freePort, writeConfig } from '../helpers/child-registry.ts';
import { repositoryAccess, TestIssuer } from './issuer.ts';

const run = promisify(execFile);

/**
 * `auth.token.jwks` as an https:// URL: the registry fetches the issuer's keys from a real TLS
 * server on loopback (trusted through NODE_EXTRA_CA_CERTS, as an operator would add a private CA),
 * and fetches again when a token names a key it has not seen (a key rotation), without a restart.
 */
describe('token auth with a JWKS served over https', { timeout: 120_000 }, () => {
  let dir: string;
  let server: Server;
  let registry: ChildRegistry;
  let first: TestIssuer;
  let rotated: TestIssuer;
  let served: string; // the JWKS document the server answers with now
  let fetches = 0;

  before(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'dockyard-jwks-'));
    first = await TestIssuer.create(dir, { name: 'first' });
    rotated = await TestIssuer.create(dir, { name: 'rotated' });
    served = await readFile(first.jwksPath, 'utf8');
    const key = path.join(dir, 'tls.key');
    const cert = path.join(dir, 'tls.pem');
    await run('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', key, '-out', cert,
      '-days', '1', '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1'], { timeout: 30_000 });
    server = createServer({ key: await readFile(key), cert: await readFile(cert) }, (_req, res) => {
      fetches++;
      res.writeHead(200, { 'content-type': 'application/json' }).end(served);
    });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const jwksUrl = `https://127.0.0.1:${(server.address() as AddressInfo).port}/jwks.json`;

    const port = await freePort();
    const file = await writeConfig(dir, {
      log: { level: 'warn' },
      http: { addr: `127.0.0.1:${port}` },
      storage: { filesystem: { rootdirectory: path.join(dir, 'data') } },
      auth: { token: { realm: 'https://auth.example.test/token', service: first.service, issuer: first.issuer, jwks: jwksUrl } },
    });
    registry = await ChildRegistry.start(file, port, 30_000, { NODE_EXTRA_CA_CERTS: cert });
  });

  after(async () => {
    await registry?.stop();
    server?.closeAllConnections();
    server?.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  const tagsWith = async (token: string) =>
    fetch(`${registry.url}/v2/app/tags/list`, { headers: { authorization: `Bearer ${token}` } });

  it('accepts a token signed with a key of the fetched JWKS', async () => {
    const res = await tagsWith(await first.sign([repositoryAccess('app', 'pull')]));
    // The repository does not exist yet: past the access check, the registry answers NAME_UNKNOWN.
    assert.equal(res.status, 404, `${res.status} ${await res.text()}\n${registry.log}`);
    assert.ok(fetches >= 1, 'the JWKS was fetched');
  });

  it('refuses a token of a key the issuer does not publish', async () => {
    const res = await tagsWith(await rotated.sign([repositoryAccess('app', 'pull')]));
    assert.equal(res.status, 401);
    assert.match(res.headers.get('www-authenticate') ?? '', /error="invalid_token"/);
  });

  it('fetches the JWKS again when the issuer rotates to a new key, without a restart', async () => {
    served = await readFile(rotated.jwksPath, 'utf8');
    const token = await rotated.sign([repositoryAccess('app', 'pull')]);
    // The registry refetches on an unknown kid at most every 5 s; poll for up to 15 s.
    let status = 0;
    for (const deadline = Date.now() + 15_000; Date.now() < deadline; await sleep(500)) {
      status = (await tagsWith(token)).status;
      if (status === 404) break;
    }
    assert.equal(status, 404, `a token of the rotated key is still refused:\n${registry.log}`);
    const old = await tagsWith(await first.sign([repositoryAccess('app', 'pull')]));
    assert.equal(old.status, 401, 'the key the issuer no longer publishes is no longer trusted');
  });
});
