import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { makeCertificates, type TestCertificates } from '../helpers/certificates.ts';
import { freePort, writeConfig } from '../helpers/child-registry.ts';
import { startTestRegistry, type TestRegistry } from '../helpers/registry.ts';
import { runCli, STACK_LINE, type Finished } from './run-cli.ts';

/** `dockyard health` against real registries, plain and TLS, with the config they were started from. */
describe('dockyard health', { concurrency: true, timeout: 30_000 }, () => {
  let dir: string;
  let certs: TestCertificates;
  const started: TestRegistry[] = [];
  let plain: string;
  let tls: string;
  let mutual: string;
  let plainAddr: string;

  /** A registry on a fixed free port, and the config file `dockyard health` reads for it. */
  async function start(name: string, http: Record<string, unknown>): Promise<string> {
    const addr = `127.0.0.1:${await freePort()}`;
    if (name === 'plain') plainAddr = addr;
    started.push(await startTestRegistry({ http: { ...http, addr } }));
    return writeConfig(dir, { http: { ...http, addr } }, `${name}.yml`);
  }

  before(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'dockyard-health-'));
    certs = await makeCertificates(dir);
    const tlsConfig = { certificate: certs.serverCert, key: certs.serverKey };
    [plain, tls, mutual] = await Promise.all([
      start('plain', {}),
      start('tls', { tls: tlsConfig }),
      start('mutual', { tls: { ...tlsConfig, clientcas: [certs.ca] } }),
    ]);
  });
  after(async () => {
    await Promise.all(started.map((r) => r.stop()));
    await rm(dir, { recursive: true, force: true });
  });

  /** One line, no stack trace. */
  function assertOneLine(text: string): string {
    assert.equal(text.trim().split('\n').length, 1, text);
    assert.doesNotMatch(text, STACK_LINE);
    return text.trim();
  }

  function assertHealthy(run: Finished, url: RegExp): void {
    assert.equal(run.code, 0, run.stderr);
    assert.match(assertOneLine(run.stdout), url);
    assert.equal(run.stderr, '');
  }

  it('exits 0 with one line for a ready plain-HTTP registry, on /readyz and with --live on /healthz', async () => {
    const [ready, live] = await Promise.all([runCli(['health', plain]), runCli(['health', '--live', plain])]);
    assertHealthy(ready, /^dockyard: http:\/\/127\.0\.0\.1:\d+\/readyz: 200 healthy$/);
    assertHealthy(live, /^dockyard: http:\/\/127\.0\.0\.1:\d+\/healthz: 200 healthy$/);
  });

  it('speaks TLS to a registry with http.tls, whose test CA it does not trust, and exits 0', async () => {
    assertHealthy(await runCli(['health', tls]), /^dockyard: https:\/\/127\.0\.0\.1:\d+\/readyz: 200 healthy$/);
  });

  it('presents --cert and --key to a mutual-TLS registry, and without them exits 1 saying a client certificate is asked for', async () => {
    const [withCert, without] = await Promise.all([
      runCli(['health', '--cert', certs.clientCert, '--key', certs.clientKey, mutual]),
      runCli(['health', mutual]),
    ]);
    assertHealthy(withCert, /^dockyard: https:\/\/127\.0\.0\.1:\d+\/readyz: 200 healthy$/);
    assert.equal(without.code, 1);
    assert.match(assertOneLine(without.stderr), /unhealthy: .*http\.tls\.clientcas asks for a client certificate/);
  });

  it('exits 1 with one line when the scheme does not match the server, or nothing listens', async () => {
    const nobody = await writeConfig(dir, { http: { addr: `127.0.0.1:${await freePort()}` } }, 'nobody.yml');
    const tlsAtPlain = await writeConfig(dir, { http: { addr: plainAddr, tls: { certificate: certs.serverCert, key: certs.serverKey } } }, 'tls-at-plain.yml');
    const runs = await Promise.all([runCli(['health', nobody]), runCli(['health', tlsAtPlain])]);
    for (const run of runs) {
      assert.equal(run.code, 1, run.stdout);
      assert.equal(run.stdout, '');
      assert.match(assertOneLine(run.stderr), /^dockyard: https?:\/\/127\.0\.0\.1:\d+\/readyz: unhealthy: /);
    }
    assert.match(runs[0]!.stderr, /ECONNREFUSED/);
  });

  it('exits 1 for a configuration that does not load (Docker reserves 2), and prints its usage for --help', async () => {
    const bad = await writeConfig(dir, { http: { addr: 'nowhere' } }, 'bad.yml');
    const [failed, help] = await Promise.all([runCli(['health', bad]), runCli(['health', '--help'])]);
    assert.equal(failed.code, 1);
    assert.match(assertOneLine(failed.stderr), /http\.addr/);
    assert.equal(help.code, 0);
    assert.match(help.stdout, /^Usage: dockyard health[\s\S]*--live[\s\S]*--cert/);
  });
});
