import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createHmac, createPrivateKey, type KeyObject } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { promisify } from 'node:util';
import type { Event } from '../../src/notify/event.ts';
import { expectError } from '../helpers/assertions.ts';
import { Client } from '../helpers/client.ts';
import { randomBlob, sha256, type ImageFixture } from '../helpers/oci.ts';
import type { WebhookReceiver } from '../helpers/receiver.ts';
import { suiteFixture } from '../helpers/suite-fixture.ts';
import type { TestIssuer } from './issuer.ts';

/** Pieces shared by the bearer-token verification tests: a client with a token, forged tokens, challenge checks. */

/** The token realm the registries under test advertise (never contacted). */
export const REALM = 'https://auth.example.test/token';

/** A Client whose every request carries `Authorization: Bearer <token>` (none when token is undefined). */
export class BearerClient extends Client {
  constructor(
    base: string,
    readonly token?: string,
  ) {
    super(base);
  }

  override fetch(p: string, init: RequestInit = {}): Promise<Response> {
    const headers = new Headers(init.headers);
    if (this.token !== undefined && !headers.has('authorization')) headers.set('authorization', `Bearer ${this.token}`);
    return super.fetch(p, { ...init, headers });
  }
}

/** `auth.token` pointing at `issuer` (its JWKS file unless `trust` says otherwise). */
export function tokenAuth(issuer: TestIssuer, trust: Record<string, unknown> = { jwks: issuer.jwksPath }): Record<string, unknown> {
  return { token: { realm: REALM, service: issuer.service, issuer: issuer.issuer, ...trust } };
}

/** A fresh temp directory for the describe block this is called in, removed in its `after` hook. */
export function useTempDir(prefix = 'dockyard-auth-'): () => string {
  return suiteFixture('the temp directory', () => mkdtemp(path.join(tmpdir(), prefix)), (dir) => rm(dir, { recursive: true, force: true }));
}

// --- forging ----------------------------------------------------------------------------------

const b64 = (value: unknown): string => Buffer.from(typeof value === 'string' ? value : JSON.stringify(value)).toString('base64url');

export function decodePart(part: string): Record<string, unknown> {
  return JSON.parse(Buffer.from(part, 'base64url').toString('utf8')) as Record<string, unknown>;
}

function split(token: string): [string, string, string] {
  const parts = token.split('.');
  assert.equal(parts.length, 3, `not a compact JWS: ${token}`);
  return parts as [string, string, string];
}

/** `token` with its header and payload changed and no signature at all (`alg: none`). */
export function unsignedCopy(token: string): string {
  const [header, payload] = split(token);
  return `${b64({ ...decodePart(header), alg: 'none' })}.${payload}.`;
}

/** `token` with one bit of its (decoded) signature flipped. */
export function withFlippedSignatureBit(token: string): string {
  const [header, payload, signature] = split(token);
  const bytes = Buffer.from(signature, 'base64url');
  const at = Math.floor(bytes.length / 2);
  bytes[at] = bytes[at]! ^ 0x01;
  return `${header}.${payload}.${bytes.toString('base64url')}`;
}

/** `token` with its payload re-encoded after `change`, and the original signature kept. */
export function withChangedPayload(token: string, change: (payload: Record<string, unknown>) => Record<string, unknown>): string {
  const [header, payload, signature] = split(token);
  return `${header}.${b64(change(decodePart(payload)))}.${signature}`;
}

/** `token`'s header and payload, re-signed HS256 with `secret` (alg switched to HS256). */
export function hmacCopy(token: string, secret: Buffer | string): string {
  const [header, payload] = split(token);
  const input = `${b64({ ...decodePart(header), alg: 'HS256' })}.${payload}`;
  return `${input}.${createHmac('sha256', secret).update(input).digest('base64url')}`;
}

// --- answers ----------------------------------------------------------------------------------

/** `Bearer realm="…",service="…"[,scope="…"]` exactly as the contract spells the challenge. */
export function challenge(service: string, scope?: string): string {
  return `Bearer realm="${REALM}",service="${service}"${scope === undefined ? '' : `,scope="${scope}"`}`;
}

/** 401 UNAUTHORIZED with a Bearer challenge saying `error="invalid_token"`. Consumes the body. */
export async function expectInvalidToken(res: Response, where: string): Promise<void> {
  await expectError(res, 401, 'UNAUTHORIZED', where);
  const header = res.headers.get('www-authenticate') ?? '';
  assert.ok(header.startsWith('Bearer realm='), `${where}: WWW-Authenticate is ${JSON.stringify(header)}`);
  assert.ok(header.includes('error="invalid_token"'), `${where}: WWW-Authenticate lacks error="invalid_token": ${JSON.stringify(header)}`);
}

/** A manifest over the same blobs as `image` but with its own bytes (an annotation), so pushing it needs no blob. */
export function sameBlobsManifest(image: ImageFixture, note: string): { manifest: Buffer; digest: string; mediaType: string } {
  const body = JSON.parse(image.manifest.toString('utf8')) as Record<string, unknown>;
  const manifest = Buffer.from(JSON.stringify({ ...body, annotations: { 'test.dockyard.note': note } }));
  return { manifest, digest: sha256(manifest), mediaType: image.mediaType };
}

/**
 * Pushes a marker blob with `control` and waits for its push event: the endpoint delivers in order,
 * so every event of a request answered before the marker has then arrived. Returns all events so far.
 */
export async function eventsSettled(receiver: WebhookReceiver, control: Client, name: string): Promise<Event[]> {
  const marker = randomBlob(32);
  const res = await control.pushBlob(name, marker.data, marker.digest);
  assert.equal(res.status, 201, `marker push: ${await res.text()}`);
  await receiver.until(
    () => receiver.events().some((e) => e.action === 'push' && e.target.digest === marker.digest),
    5_000,
    () => `no push event for the marker blob ${marker.digest}`,
  );
  return receiver.events();
}

// --- certificates beyond makeCertificateChain -------------------------------------------------

/** A certificate and its key as files, as openssl wrote them. */
export interface IssuedCertificate {
  certPath: string;
  keyPath: string;
  key: KeyObject;
  der: Buffer;
}

/**
 * The files makeCertificateChain(dir, name) wrote: its CA (`<name>-ca.*`) and leaf (`<name>-leaf.*`).
 * Depends on issuer.ts's file naming.
 */
export async function chainFiles(dir: string, name: string): Promise<{ ca: IssuedCertificate; leaf: IssuedCertificate }> {
  const load = async (part: string): Promise<IssuedCertificate> => {
    const certPath = path.join(dir, `${name}-${part}.pem`);
    const keyPath = path.join(dir, `${name}-${part}.key`);
    return { certPath, keyPath, key: createPrivateKey(await readFile(keyPath)), der: pemToDer(await readFile(certPath, 'utf8')) };
  };
  return { ca: await load('ca'), leaf: await load('leaf') };
}

/** What a certificate issued by issueCertificate may do. */
const EXTENSIONS = {
  ca: 'basicConstraints=critical,CA:TRUE\nkeyUsage=critical,keyCertSign,digitalSignature\n',
  leaf: 'basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\n',
  /** A non-CA whose key usage still claims certificate signing: only basicConstraints forbids it to issue. */
  'leaf claiming keyCertSign': 'basicConstraints=critical,CA:FALSE\nkeyUsage=critical,keyCertSign,digitalSignature\n',
} as const;

/** A new EC P-256 certificate `CN=<name>` of `kind` signed by `issuer`, made with openssl. */
export async function issueCertificate(dir: string, name: string, issuer: IssuedCertificate, kind: keyof typeof EXTENSIONS): Promise<IssuedCertificate> {
  const p = (f: string) => path.join(dir, `${name}.${f}`);
  const openssl = (...args: string[]) => run('openssl', args, { timeout: 30_000 });
  await openssl('ecparam', '-name', 'prime256v1', '-genkey', '-noout', '-out', p('key'));
  await openssl('req', '-new', '-key', p('key'), '-subj', `/CN=${name}`, '-out', p('csr'));
  await writeFile(p('ext'), EXTENSIONS[kind]);
  await openssl('x509', '-req', '-in', p('csr'), '-CA', issuer.certPath, '-CAkey', issuer.keyPath, '-CAcreateserial', '-days', '2', '-extfile', p('ext'), '-out', p('pem'));
  return { certPath: p('pem'), keyPath: p('key'), key: createPrivateKey(await readFile(p('key'))), der: pemToDer(await readFile(p('pem'), 'utf8')) };
}

const run = promisify(execFile);
const pemToDer = (pem: string) => Buffer.from(pem.replace(/-----[^-]+-----/g, '').replace(/\s+/g, ''), 'base64');
