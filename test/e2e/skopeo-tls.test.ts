import assert from 'node:assert/strict';
import { copyFile, mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { makeCertificates, type TestCertificates } from '../helpers/certificates.ts';
import { startTestRegistry, type TestRegistry } from '../helpers/registry.ts';
import { buildImage, descriptor, imageBlobs, readLayout, Skopeo, writeLayout, type Image } from './skopeo-fixtures.ts';

/**
 * The real skopeo against the registry over HTTPS with a CA made by the test, verifying the
 * certificate (no --tls-verify=false anywhere): its cert dir holds `ca.crt`, and for mutual TLS
 * also `client.cert` and `client.key` (containers/image's certs.d convention).
 */
describe('skopeo over TLS', { timeout: 120_000 }, () => {
  let work: string;
  let certs: TestCertificates;
  let skopeo: Skopeo;
  let trustDir: string;
  let clientDir: string;
  const started: TestRegistry[] = [];

  before(async () => {
    work = await mkdtemp(path.join(tmpdir(), 'dockyard-skopeo-tls-'));
    certs = await makeCertificates(work);
    skopeo = await Skopeo.create(path.join(work, 'skopeo'));
    trustDir = path.join(work, 'trust');
    clientDir = path.join(work, 'client');
    for (const dir of [trustDir, clientDir]) {
      await mkdir(dir);
      await copyFile(certs.ca, path.join(dir, 'ca.crt'));
    }
    await copyFile(certs.clientCert, path.join(clientDir, 'client.cert'));
    await copyFile(certs.clientKey, path.join(clientDir, 'client.key'));
  });
  after(async () => {
    for (const r of started) await r.stop();
    await rm(work, { recursive: true, force: true });
  });

  async function start(tls: Record<string, unknown> = {}): Promise<{ registry: TestRegistry; ref: (r: string) => string }> {
    const registry = await startTestRegistry({ http: { tls: { certificate: certs.serverCert, key: certs.serverKey, ...tls } } });
    started.push(registry);
    const host = new URL(registry.url).host;
    return { registry, ref: (r) => `docker://${host}/${r}` };
  }

  async function layout(name: string, image: Image): Promise<string> {
    const dir = path.join(work, name);
    await writeLayout(dir, imageBlobs(image), descriptor(image.mediaType, image.manifest), 'latest');
    return dir;
  }

  async function assertPulledBack(out: string, image: Image): Promise<void> {
    const pulled = await readLayout(out);
    assert.deepEqual(pulled.index.manifests.map((m) => m.digest), [image.manifest.digest]);
    for (const b of imageBlobs(image)) assert.deepEqual(pulled.blobs.get(b.digest), b.data, `blob ${b.digest}`);
  }

  it('copies an image in and back out, verifying the server certificate against the test CA', async () => {
    const { ref } = await start();
    const image = buildImage('oci', 2);
    await skopeo.run('copy', '--dest-cert-dir', trustDir, '--preserve-digests', `oci:${await layout('in', image)}:latest`, ref('tls/app:v1'));
    const out = path.join(work, 'out');
    await skopeo.run('copy', '--src-cert-dir', trustDir, '--preserve-digests', ref('tls/app:v1'), `oci:${out}:v1`);
    await assertPulledBack(out, image);
  });

  it('fails to push when skopeo does not trust the CA', async () => {
    const { ref } = await start();
    const image = buildImage('oci', 1);
    await assert.rejects(
      skopeo.run('copy', `oci:${await layout('untrusted', image)}:latest`, ref('tls/untrusted:v1')),
      /x509|certificate/,
    );
  });

  it('with clientcas: pushes and pulls with client.cert/client.key in the cert dir, and fails without them', async () => {
    const { ref } = await start({ clientcas: [certs.ca] });
    const image = buildImage('oci', 2);
    const src = await layout('mtls', image);
    await assert.rejects(
      skopeo.run('copy', '--dest-cert-dir', trustDir, `oci:${src}:latest`, ref('tls/mtls:v1')),
      /certificate|tls|handshake|EOF|reset/i,
      'without a client certificate',
    );
    await skopeo.run('copy', '--dest-cert-dir', clientDir, '--preserve-digests', `oci:${src}:latest`, ref('tls/mtls:v1'));
    const out = path.join(work, 'mtls-out');
    await skopeo.run('copy', '--src-cert-dir', clientDir, '--preserve-digests', ref('tls/mtls:v1'), `oci:${out}:v1`);
    await assertPulledBack(out, image);
  });
});
