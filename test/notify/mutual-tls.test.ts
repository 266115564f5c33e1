import assert from 'node:assert/strict';
import { once } from 'node:events';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import type { TLSSocket } from 'node:tls';
import { after, before, describe, it } from 'node:test';
import { makeCertificates, type TestCertificates } from '../helpers/certificates.ts';
import { Client } from '../helpers/client.ts';
import { randomBlob } from '../helpers/oci.ts';
import { startTestRegistry, type TestRegistry } from '../helpers/registry.ts';

describe('delivery over https with mutual TLS', () => {
  let dir: string;
  let certs: TestCertificates;
  let receiver: Server;
  const received: { subject: string; body: { events: { action: string; target: { digest?: string } }[] } }[] = [];
  let registry: TestRegistry;
  let untrusting: TestRegistry;

  before(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'dockyard-tls-'));
    certs = await makeCertificates(dir);
    receiver = createServer(
      {
        key: await readFile(certs.serverKey),
        cert: await readFile(certs.serverCert),
        ca: await readFile(certs.ca),
        requestCert: true,
        rejectUnauthorized: true, // no client certificate from our CA: no TLS session at all
      },
      (req, res) => {
        const chunks: Buffer[] = [];
        req.on('data', (c: Buffer) => chunks.push(c));
        req.on('end', () => {
          const peer = (req.socket as TLSSocket).getPeerCertificate();
          received.push({ subject: String(peer.subject?.CN), body: JSON.parse(Buffer.concat(chunks).toString('utf8')) });
          res.end('ok');
        });
      },
    );
    receiver.listen(0, '127.0.0.1');
    await once(receiver, 'listening');
    const url = `https://127.0.0.1:${(receiver.address() as AddressInfo).port}/hook`;
    const endpoint = { url, timeout: '2s', threshold: 1, backoff: '50ms', maxattempts: 3 };
    registry = await startTestRegistry({
      notifications: {
        endpoints: [{ name: 'mtls', ...endpoint, tls: { ca: certs.ca, certificate: certs.clientCert, key: certs.clientKey } }],
      },
    });
    // Trusts the server but presents no client certificate: the receiver refuses the handshake.
    untrusting = await startTestRegistry({ notifications: { endpoints: [{ name: 'nocert', ...endpoint, tls: { ca: certs.ca } }] } });
  });

  after(async () => {
    await registry.stop();
    await untrusting.stop();
    receiver.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('delivers to an https endpoint that demands a client certificate, verifying the server with the CA file', async () => {
    const blob = randomBlob(256);
    const res = await new Client(registry.url).pushBlob('tls/app', blob.data, blob.digest);
    assert.equal(res.status, 201);
    const deadline = Date.now() + 10_000;
    while (!received.some((r) => r.body.events[0]?.target.digest === blob.digest) && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 25));
    }
    const delivery = received.find((r) => r.body.events[0]?.target.digest === blob.digest);
    assert.ok(delivery, 'the receiver got the push event');
    assert.equal(delivery.subject, 'dockyard-client', 'the registry presented its client certificate');
    assert.equal(delivery.body.events[0]?.action, 'push');
  });

  it('fails the delivery (and dead-letters it after maxattempts) when no client certificate is configured', async () => {
    const blob = randomBlob(256);
    const res = await new Client(untrusting.url).pushBlob('tls/app', blob.data, blob.digest);
    assert.equal(res.status, 201, 'the push itself is never held up by the endpoint');
    const deadline = Date.now() + 10_000;
    let state: { deadLetters: number; lastStatus: number | null } | undefined;
    while (Date.now() < deadline) {
      const body = (await (await fetch(`${untrusting.url}/notifications/endpoints`)).json()) as {
        endpoints: { deadLetters: number; lastStatus: number | null }[];
      };
      state = body.endpoints[0];
      if (state && state.deadLetters > 0) break;
      await new Promise((r) => setTimeout(r, 50));
    }
    assert.equal(state?.deadLetters, 1);
    assert.equal(state?.lastStatus, null, 'no HTTP response: the TLS handshake failed');
    assert.ok(!received.some((r) => r.body.events[0]?.target.digest === blob.digest));
    const log = (await (await fetch(`${untrusting.url}/notifications/endpoints/nocert/deliveries`)).json()) as {
      deliveries: { error: string | null }[];
    };
    assert.ok(log.deliveries.length >= 3 && log.deliveries.every((d) => d.error !== null), 'each attempt logged with its error');
  });
});
