/**
 * The token signer: an RSA key and a self-signed certificate made by openssl in a temp directory
 * (the certificate is both servers' `rootcertbundle`), and RS256 tokens per Docker's token spec,
 * signed with jose. The header names the key by its libtrust id (`kid`, which Distribution 2.8.2
 * matches against the root certificates' keys) and, by default, carries the certificate (`x5c`).
 */
import { execFileSync } from 'node:child_process';
import { createPrivateKey, randomUUID, X509Certificate, type KeyObject } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import { SignJWT } from 'jose';
import { libtrustKeyId } from '../../src/auth/key-id.ts';
import { ISSUER, REALM, SERVICE, TOKEN_LIFETIME_S, X5C } from './settings.ts';

export interface Signer {
  dir: string;
  certPath: string;
  kid: string;
  sign: (repository: string, actions: string[]) => Promise<string>;
  dispose: () => Promise<void>;
}

export async function makeSigner(): Promise<Signer> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'auth-bench-keys-'));
  const keyPath = path.join(dir, 'key.pem');
  const certPath = path.join(dir, 'cert.pem');
  execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', keyPath, '-out', certPath, '-days', '2', '-subj', '/CN=bench token signer'], {
    stdio: ['ignore', 'ignore', 'pipe'],
    timeout: 30_000,
  });
  const key: KeyObject = createPrivateKey(await readFile(keyPath, 'utf8'));
  const cert = new X509Certificate(await readFile(certPath, 'utf8'));
  const kid = libtrustKeyId(cert.publicKey);
  const x5c = [cert.raw.toString('base64')];
  const sign = (repository: string, actions: string[]) => {
    const now = Math.floor(Date.now() / 1000);
    return new SignJWT({ access: [{ type: 'repository', name: repository, actions }] })
      .setProtectedHeader({ alg: 'RS256', typ: 'JWT', kid, ...(X5C ? { x5c } : {}) })
      .setIssuer(ISSUER)
      .setSubject('bench')
      .setAudience(SERVICE)
      .setIssuedAt(now)
      .setNotBefore(now - 10)
      .setExpirationTime(now + TOKEN_LIFETIME_S)
      .setJti(randomUUID())
      .sign(key);
  };
  return { dir, certPath, kid, sign, dispose: () => rm(dir, { recursive: true, force: true }) };
}

/** The `auth.token` config both servers read. */
export function tokenAuthLines(certPath: string): string[] {
  return ['auth:', '  token:', `    realm: ${REALM}`, `    service: ${SERVICE}`, `    issuer: ${ISSUER}`, `    rootcertbundle: ${JSON.stringify(certPath)}`];
}
