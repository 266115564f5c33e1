import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import { Agent, fetch as undiciFetch } from 'undici';
import { parseConfig } from '../../src/config/load.ts';
import { makeCertificates, type TestCertificates } from '../helpers/certificates.ts';
import { freePort, writeConfig } from '../helpers/child-registry.ts';
import { Client } from '../helpers/client.ts';
import { configError } from '../helpers/config-error.ts';
import { randomBlob } from '../helpers/oci.ts';
import { WebhookReceiver } from '../helpers/receiver.ts';
import { startTestRegistry, type TestRegistry } from '../helpers/registry.ts';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

interface TlsClientOptions {
  ca?: Buffer;
  cert?: Buffer;
  key?: Buffer;
  maxVersion?: 'TLSv1.2' | 'TLSv1.3';
}

/** The test client over HTTPS: undici with the test's CA (and client certificate, TLS version). */
class TlsClient extends Client {
  private readonly agent: Agent;

  constructor(base: string, tls: TlsClientOptions) {
    super(base);
    this.agent = new Agent({ connect: { ...tls } });
  }

  override fetch(p: string, init: RequestInit = {}): Promise<Response> {
    const options = { redirect: 'manual', ...init, dispatcher: this.agent } as Parameters<typeof undiciFetch>[1];
    return undiciFetch(new URL(p, this.base), options) as unknown as Promise<Response>;
  }

  close(): Promise<void> {
    return this.agent.close();
  }
}

/** Why a request failed below HTTP (the TLS or socket error), or null when it got an answer. */
async function handshakeFailure(client: TlsClient): Promise<string | null> {
  try {
    const res = await client.fetch('/v2/');
    await res.arrayBuffer();
    return null;
  } catch (err) {
    const cause = (err as { cause?: { code?: string; message?: string } }).cause;
    return `${cause?.code ?? ''} ${cause?.message ?? String(err)}`.trim();
  } finally {
    await client.close();
  }
}

describe('TLS (http.tls)', () => {
  let dir: string;
  let certs: TestCertificates;
  let pem: Record<keyof TestCertificates, Buffer>;
  const started: TestRegistry[] = [];

  before(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'dockyard-tls-'));
    certs = await makeCertificates(dir);
    pem = Object.fromEntries(
      await Promise.all(Object.entries(certs).map(async ([k, f]) => [k, await readFile(f)] as const)),
    ) as Record<keyof TestCertificates, Buffer>;
  });
  after(async () => {
    for (const r of started) await r.stop();
    await rm(dir, { recursive: true, force: true });
  });

  async function start(tls: Record<string, unknown>, extra: Record<string, unknown> = {}): Promise<TestRegistry> {
    const registry = await startTestRegistry({ ...extra, http: { tls: { certificate: certs.serverCert, key: certs.serverKey, ...tls } } });
    started.push(registry);
    return registry;
  }

  it('serves the API over HTTPS at an https:// URL, and its events name https:// URLs', async () => {
    const receiver = await WebhookReceiver.start();
    try {
      const registry = await start({}, {
        notifications: { endpoints: [{ name: 'hook', url: receiver.url(), timeout: '1s', backoff: '50ms', threshold: 2 }] },
      });
      assert.match(registry.url, /^https:\/\/127\.0\.0\.1:\d+$/);
      const client = new TlsClient(registry.url, { ca: pem.ca });
      try {
        const blob = randomBlob(1024);
        const pushed = await client.pushBlob('tls/app', blob.data, blob.digest);
        assert.equal(pushed.status, 201, await pushed.text());
        const pulled = await client.fetch(`/v2/tls/app/blobs/${blob.digest}`);
        assert.equal(pulled.status, 200);
        assert.deepEqual(Buffer.from(await pulled.arrayBuffer()), blob.data);
      } finally {
        await client.close();
      }
      const [event] = await receiver.waitFor(1, 10_000);
      assert.equal(event?.action, 'push');
      assert.ok(event?.target.url?.startsWith(`${registry.url}/v2/tls/app/blobs/`), `event target.url: ${event?.target.url}`);
    } finally {
      await receiver.close();
    }
  });

  it('delivers to a built-in inbox over its own TLS listener (the test bed works with http.tls)', async () => {
    const registry = await start({});
    const client = new TlsClient(registry.url, { ca: pem.ca });
    try {
      const created = await client.fetch('/notifications/endpoints', {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ name: 'box', inbox: true }),
      });
      assert.equal(created.status, 201, await created.text());
      const blob = randomBlob(256);
      assert.equal((await client.pushBlob('tls/inbox', blob.data, blob.digest)).status, 201);
      let requests: { body: string; signature: { valid: boolean } }[] = [];
      for (let i = 0; i < 50 && requests.length === 0; i++) {
        requests = ((await (await client.fetch('/ui/inbox/box/requests')).json()) as { requests: typeof requests }).requests;
        if (requests.length === 0) await new Promise((r) => setTimeout(r, 100));
      }
      assert.equal(requests.length, 1, 'the inbox got the push over https');
      assert.equal(requests[0]!.signature.valid, true);
      assert.ok(requests[0]!.body.includes(blob.digest));
    } finally {
      await client.close();
    }
  });

  it('is refused by a client that does not trust the certificate', async () => {
    const registry = await start({});
    const failure = await handshakeFailure(new TlsClient(registry.url, {}));
    assert.ok(failure, 'a client without the CA got an HTTP answer');
    assert.match(failure, /certificate/i);
  });

  describe('mutual TLS (http.tls.clientcas)', () => {
    let registry: TestRegistry;
    before(async () => {
      registry = await start({ clientcas: [certs.ca] });
    });

    it('refuses a client without a certificate during the handshake', async (t) => {
      const failure = await handshakeFailure(new TlsClient(registry.url, { ca: pem.ca }));
      assert.ok(failure, 'a client without a certificate got an HTTP answer');
      t.diagnostic(`without a certificate: ${failure}`);
    });

    it('refuses a client whose certificate another CA signed', async () => {
      const failure = await handshakeFailure(new TlsClient(registry.url, { ca: pem.ca, cert: pem.strangerCert, key: pem.strangerKey }));
      assert.ok(failure, 'a client with a stranger certificate got an HTTP answer');
    });

    it('serves a client whose certificate a CA of clientcas signed', async () => {
      const client = new TlsClient(registry.url, { ca: pem.ca, cert: pem.clientCert, key: pem.clientKey });
      try {
        const res = await client.fetch('/v2/');
        assert.equal(res.status, 200, await res.text());
      } finally {
        await client.close();
      }
    });
  });

  describe('http.tls.minimumtls', () => {
    it('serves a TLS 1.2 client by default (tls1.2)', async () => {
      const registry = await start({});
      assert.equal(await handshakeFailure(new TlsClient(registry.url, { ca: pem.ca, maxVersion: 'TLSv1.2' })), null);
    });

    it('with tls1.3, refuses a client that speaks at most TLS 1.2 and serves a TLS 1.3 one', async (t) => {
      const registry = await start({ minimumtls: 'tls1.3' });
      const failure = await handshakeFailure(new TlsClient(registry.url, { ca: pem.ca, maxVersion: 'TLSv1.2' }));
      assert.ok(failure, 'a TLS 1.2 client got an HTTP answer');
      assert.match(failure, /protocol version|version/i);
      t.diagnostic(`TLS 1.2 client against tls1.3: ${failure}`);
      assert.equal(await handshakeFailure(new TlsClient(registry.url, { ca: pem.ca, maxVersion: 'TLSv1.3' })), null);
    });

    it('refuses TLS 1.0 and 1.1 and clientauth modes other than Distribution\'s default in the configuration', () => {
      const tls = { certificate: '/c', key: '/k' };
      assert.match(configError(() => parseConfig({ http: { tls: { ...tls, minimumtls: 'tls1.0' } } })), /http\.tls\.minimumtls.*tls1\.2/);
      assert.match(configError(() => parseConfig({ http: { tls: { ...tls, clientauth: 'request-client-cert' } } })), /http\.tls\.clientauth/);
      assert.match(configError(() => parseConfig({ http: { tls: { certificate: '/c' } } })), /http\.tls\.key/);
      const { config } = parseConfig({ http: { tls } });
      assert.equal(config.http.tls?.minimumtls, 'tls1.2');
    });
  });

  describe('a certificate that does not load stops the start with one line', () => {
    /** Runs `node --import tsx src/main.ts config.yml` and returns its exit code and output. */
    async function startMain(tls: Record<string, unknown>): Promise<{ code: number | null; stderr: string }> {
      const port = await freePort();
      const config = await writeConfig(dir, {
        http: { addr: `127.0.0.1:${port}`, tls },
        storage: { filesystem: { rootdirectory: await mkdtemp(path.join(dir, 'root-')) } },
      }, `config-${port}.yml`);
      const env: NodeJS.ProcessEnv = {};
      for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('REGISTRY_')) env[k] = v;
      const child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts', config], { cwd: ROOT, env: { ...env, NODE_OPTIONS: '' }, stdio: ['ignore', 'pipe', 'pipe'] });
      let stderr = '';
      child.stderr.on('data', (c: Buffer) => (stderr += c.toString('utf8')));
      const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
      const code = await new Promise<number | null>((resolve) => child.on('exit', (exitCode) => resolve(exitCode)));
      clearTimeout(timer);
      return { code, stderr };
    }

    function assertOneLine(result: { code: number | null; stderr: string }, pattern: RegExp): void {
      assert.notEqual(result.code, 0, `exit code ${result.code}`);
      assert.notEqual(result.code, null, 'the process did not exit by itself');
      const lines = result.stderr.trim().split('\n');
      assert.equal(lines.length, 1, `one line expected:\n${result.stderr}`);
      assert.doesNotMatch(result.stderr, /\n\s+at /, 'no stack trace');
      assert.match(lines[0]!, pattern);
    }

    // The three children start at once: each pays tsx's start-up, not the test's time in turn.
    const results = new Map<string, Promise<{ code: number | null; stderr: string }>>();
    before(() => {
      results.set('missing', startMain({ certificate: path.join(dir, 'no-such.pem'), key: certs.serverKey }));
      results.set('mismatch', startMain({ certificate: certs.serverCert, key: certs.clientKey }));
      results.set('ca', startMain({ certificate: certs.serverCert, key: certs.serverKey, clientcas: [certs.serverKey.replace(/\.key$/, '.ext')] }));
    });

    it('a certificate file that is not there', async (t) => {
      const result = await results.get('missing')!;
      t.diagnostic(result.stderr.trim());
      assertOneLine(result, new RegExp(`http\\.tls\\.certificate.*${path.join(dir, 'no-such.pem').replaceAll('.', '\\.')}`));
    });

    it('a key that does not match the certificate', async (t) => {
      const result = await results.get('mismatch')!;
      t.diagnostic(result.stderr.trim());
      assertOneLine(result, /http\.tls.*cannot be used.*mismatch/i);
    });

    it('a client CA file that is not PEM', async (t) => {
      const result = await results.get('ca')!;
      t.diagnostic(result.stderr.trim());
      assertOneLine(result, /http\.tls\.clientcas\[0\].*not a PEM/);
    });
  });
});
