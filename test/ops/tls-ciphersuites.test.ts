import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { connect, type TLSSocket } from 'node:tls';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { makeCertificates, type TestCertificates } from '../helpers/certificates.ts';
import { writeConfig } from '../helpers/child-registry.ts';
import { startTestRegistry, type TestRegistry } from '../helpers/registry.ts';
import { runCli, STACK_LINE } from '../cli/run-cli.ts';

interface Handshake {
  protocol: string | null;
  suite: string;
  /** The status line of `GET /v2/` over the session. */
  status: string;
}

/** A real TLS client (node:tls) with these options: what it negotiated and the answer to GET /v2/, or why it failed. */
function handshake(port: number, ca: Buffer, options: { ciphers?: string; minVersion?: 'TLSv1.2' | 'TLSv1.3'; maxVersion?: 'TLSv1.2' | 'TLSv1.3' }): Promise<Handshake | Error> {
  return new Promise((resolve) => {
    const socket: TLSSocket = connect({ host: '127.0.0.1', port, ca, ...options }, () => {
      let text = '';
      socket.setEncoding('utf8').on('data', (chunk: string) => {
        text += chunk;
        if (!text.includes('\r\n')) return;
        resolve({ protocol: socket.getProtocol(), suite: socket.getCipher().standardName, status: text.split('\r\n')[0]! });
        socket.destroy();
      });
      socket.write('GET /v2/ HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n');
    });
    socket.setTimeout(5_000, () => socket.destroy(new Error('no answer within 5 s')));
    socket.on('error', resolve);
  });
}

describe('http.tls.ciphersuites: the TLS 1.2 suites offered, by Go names as Distribution takes them', { timeout: 30_000 }, () => {
  let dir: string;
  let certs: TestCertificates;
  let ca: Buffer;
  let registry: TestRegistry;

  before(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'dockyard-ciphers-'));
    certs = await makeCertificates(dir); // an EC (P-256) server key: the ECDSA suites
    ca = await readFile(certs.ca);
    registry = await startTestRegistry({
      http: { tls: { certificate: certs.serverCert, key: certs.serverKey, ciphersuites: ['TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256', 'TLS_AES_128_GCM_SHA256'] } },
    });
  });
  after(async () => {
    await registry?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  it('serves a TLS 1.2 client offering the configured suite', async () => {
    const result = await handshake(registry.port, ca, { maxVersion: 'TLSv1.2', ciphers: 'ECDHE-ECDSA-AES128-GCM-SHA256' });
    assert.ok(!(result instanceof Error), `refused: ${String(result)}`);
    assert.deepEqual(result, { protocol: 'TLSv1.2', suite: 'TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256', status: 'HTTP/1.1 200 OK' });
  });

  it('refuses, in the handshake, a TLS 1.2 client offering only another suite', async () => {
    for (const ciphers of ['ECDHE-ECDSA-AES256-GCM-SHA384', 'ECDHE-ECDSA-CHACHA20-POLY1305']) {
      const result = await handshake(registry.port, ca, { maxVersion: 'TLSv1.2', ciphers });
      assert.ok(result instanceof Error, `${ciphers} was served: ${JSON.stringify(result)}`);
      assert.match(result.message, /handshake failure/i, ciphers);
    }
  });

  it('leaves TLS 1.3 its own suites, as Go does (a TLS 1.3 name in the list changes nothing)', async () => {
    const result = await handshake(registry.port, ca, { minVersion: 'TLSv1.3', ciphers: 'TLS_AES_256_GCM_SHA384' });
    assert.ok(!(result instanceof Error), `refused: ${String(result)}`);
    assert.deepEqual(result, { protocol: 'TLSv1.3', suite: 'TLS_AES_256_GCM_SHA384', status: 'HTTP/1.1 200 OK' });
  });

  it('stops dockyard serve with one line naming an unknown suite, a static-RSA one, or a list of TLS 1.3 suites only', async () => {
    const cases: [string, string[], RegExp][] = [
      ['unknown', ['TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256', 'TLS_ECDHE_ECDSA_WITH_ROT13'], /http\.tls\.ciphersuites\.1.*unknown TLS cipher suite "TLS_ECDHE_ECDSA_WITH_ROT13"/],
      ['static-rsa', ['TLS_RSA_WITH_AES_128_GCM_SHA256'], /http\.tls\.ciphersuites\.0.*"TLS_RSA_WITH_AES_128_GCM_SHA256" is not offered/],
      ['tls13-only', ['TLS_AES_128_GCM_SHA256'], /http\.tls\.ciphersuites.*only TLS 1\.3 suites/],
    ];
    const runs = await Promise.all(
      cases.map(async ([name, ciphersuites]) => {
        const file = await writeConfig(dir, {
          http: { addr: '127.0.0.1:0', tls: { certificate: certs.serverCert, key: certs.serverKey, ciphersuites } },
          storage: { filesystem: { rootdirectory: path.join(dir, `${name}-data`) } },
        }, `${name}.yml`);
        return runCli(['serve', file]);
      }),
    );
    for (const [i, [name, , line]] of cases.entries()) {
      const { code, stderr, stdout } = runs[i]!;
      assert.equal(code, 2, `${name}: ${stderr}`);
      assert.equal(stderr.trim().split('\n').length, 1, `${name}: ${stderr}`);
      assert.doesNotMatch(stderr, STACK_LINE);
      assert.match(stderr, line, name);
      assert.equal(stdout, '', name);
    }
  });
});
