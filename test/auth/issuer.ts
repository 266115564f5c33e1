import { execFile } from 'node:child_process';
import { createHash, createPrivateKey, generateKeyPairSync, randomUUID, type KeyObject } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import * as path from 'node:path';
import { promisify } from 'node:util';
import { exportJWK, SignJWT, type JWTPayload } from 'jose';

const run = promisify(execFile);

/** One `access` entry of the Docker token spec. */
export interface AccessClaim {
  type: string;
  name: string;
  actions: string[];
}

/**
 * An external token issuer made in the test: its keys, the files a registry is pointed at
 * (a JWKS file, a PEM certificate bundle made by openssl), and a signer for tokens, so tests can
 * sign good tokens and every kind of bad one.
 */
export class TestIssuer {
  private constructor(
    readonly issuer: string,
    readonly service: string,
    readonly privateKey: KeyObject,
    readonly publicKey: KeyObject,
    readonly alg: string,
    /** `kid` of the key in the JWKS file. */
    readonly kid: string,
    /** A JWKS file holding the public key. */
    readonly jwksPath: string,
  ) {}

  /** A fresh ES256 (or RS256) key and its JWKS file in `dir`. */
  static async create(dir: string, opts: { issuer?: string; service?: string; alg?: 'ES256' | 'RS256'; name?: string } = {}): Promise<TestIssuer> {
    const alg = opts.alg ?? 'ES256';
    const { privateKey, publicKey } =
      alg === 'ES256' ? generateKeyPairSync('ec', { namedCurve: 'prime256v1' }) : generateKeyPairSync('rsa', { modulusLength: 2048 });
    const jwk = await exportJWK(publicKey);
    const kid = `test-${randomUUID()}`;
    const jwksPath = path.join(dir, `${opts.name ?? 'issuer'}-jwks.json`);
    await writeFile(jwksPath, JSON.stringify({ keys: [{ ...jwk, kid, alg, use: 'sig' }] }));
    return new TestIssuer(
      opts.issuer ?? 'test-issuer',
      opts.service ?? 'test-registry',
      privateKey,
      publicKey,
      alg,
      kid,
      jwksPath,
    );
  }

  /**
   * Signs a token. Defaults: iss/aud of this issuer, sub `alice`, valid from a minute ago for
   * five minutes, header {alg, typ, kid}. `claims` and `header` override or add fields
   * (a field set to undefined is left out).
   */
  async sign(access: AccessClaim[], opts: { claims?: JWTPayload & Record<string, unknown>; header?: Record<string, unknown>; key?: KeyObject } = {}): Promise<string> {
    const now = Math.floor(Date.now() / 1000);
    const payload: Record<string, unknown> = {
      iss: this.issuer,
      sub: 'alice',
      aud: this.service,
      exp: now + 300,
      nbf: now - 60,
      iat: now - 60,
      jti: randomUUID(),
      access,
      ...opts.claims,
    };
    for (const k of Object.keys(payload)) if (payload[k] === undefined) delete payload[k];
    const header: Record<string, unknown> = { alg: this.alg, typ: 'JWT', kid: this.kid, ...opts.header };
    for (const k of Object.keys(header)) if (header[k] === undefined) delete header[k];
    return new SignJWT(payload).setProtectedHeader(header as { alg: string }).sign(opts.key ?? this.privateKey);
  }
}

/** `repository:<name>:<actions>` as a claim. */
export function repositoryAccess(name: string, ...actions: string[]): AccessClaim {
  return { type: 'repository', name, actions };
}

/**
 * A certificate authority and a leaf certificate signed by it, made with openssl in `dir`
 * (EC P-256 keys). `bundlePath` holds the CA certificate (what `rootcertbundle` points at);
 * `leafKey` signs tokens whose header carries `x5c: leafChain`.
 */
export interface CertificateChain {
  bundlePath: string;
  caKey: KeyObject;
  caCertDer: Buffer;
  leafKey: KeyObject;
  leafCertDer: Buffer;
  /** The x5c header value: base64 DER of the leaf (and nothing else: the CA is the trusted root). */
  leafChain: string[];
}

export async function makeCertificateChain(dir: string, name = 'ca'): Promise<CertificateChain> {
  const p = (f: string) => path.join(dir, `${name}-${f}`);
  const openssl = (...args: string[]) => run('openssl', args, { timeout: 30_000 });
  await openssl('ecparam', '-name', 'prime256v1', '-genkey', '-noout', '-out', p('ca.key'));
  await openssl('req', '-x509', '-new', '-key', p('ca.key'), '-subj', `/CN=${name} token CA`, '-days', '2', '-out', p('ca.pem'),
    '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,digitalSignature');
  await openssl('ecparam', '-name', 'prime256v1', '-genkey', '-noout', '-out', p('leaf.key'));
  await openssl('req', '-new', '-key', p('leaf.key'), '-subj', `/CN=${name} token signer`, '-out', p('leaf.csr'));
  await writeFile(p('leaf.ext'), 'basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\n');
  await openssl('x509', '-req', '-in', p('leaf.csr'), '-CA', p('ca.pem'), '-CAkey', p('ca.key'), '-CAcreateserial', '-days', '2',
    '-extfile', p('leaf.ext'), '-out', p('leaf.pem'));
  // PKCS#8 for jose
  await openssl('pkcs8', '-topk8', '-nocrypt', '-in', p('ca.key'), '-out', p('ca.p8'));
  await openssl('pkcs8', '-topk8', '-nocrypt', '-in', p('leaf.key'), '-out', p('leaf.p8'));
  const der = (pem: string) => Buffer.from(pem.replace(/-----[^-]+-----/g, '').replace(/\s+/g, ''), 'base64');
  const caCertDer = der(await readFile(p('ca.pem'), 'utf8'));
  const leafCertDer = der(await readFile(p('leaf.pem'), 'utf8'));
  return {
    bundlePath: p('ca.pem'),
    caKey: createPrivateKey(await readFile(p('ca.p8'), 'utf8')),
    caCertDer,
    leafKey: createPrivateKey(await readFile(p('leaf.p8'), 'utf8')),
    leafCertDer,
    leafChain: [leafCertDer.toString('base64')],
  };
}

/**
 * libtrust's key id, as Distribution matches a token's `kid` against its root certificates:
 * SHA-256 of the DER public key, first 240 bits, base32, in 12 groups of 4 joined by ':'.
 * Written here from that description, independently of the registry's own code.
 */
export function libtrustKeyId(publicKey: KeyObject): string {
  const hash = createHash('sha256').update(publicKey.export({ type: 'spki', format: 'der' })).digest().subarray(0, 30);
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
  let bits = '';
  for (const byte of hash) bits += byte.toString(2).padStart(8, '0');
  let text = '';
  for (let i = 0; i < bits.length; i += 5) text += alphabet[parseInt(bits.slice(i, i + 5), 2)];
  return text.match(/.{4}/g)!.join(':');
}

/** An htpasswd file with bcrypt entries, written by Apache's real `htpasswd -B` (apache2-utils). */
export async function writeHtpasswd(file: string, users: Record<string, string>): Promise<void> {
  let first = true;
  for (const [user, password] of Object.entries(users)) {
    await run('htpasswd', [first ? '-cbB' : '-bB', file, user, password], { timeout: 30_000 });
    first = false;
  }
}
