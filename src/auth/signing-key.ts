import { createPrivateKey, createPublicKey, generateKeyPairSync, type KeyObject } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import * as path from 'node:path';
import { libtrustKeyId } from './key-id.ts';

export interface SigningKey {
  privateKey: KeyObject;
  publicKey: KeyObject;
  alg: 'ES256' | 'ES384' | 'ES512' | 'RS256' | 'EdDSA';
  /** libtrust key id: what a Distribution registry given this key's certificate would match. */
  kid: string;
}

/**
 * The token service's key: read from `file` (PEM, PKCS#8 or traditional; EC, RSA or Ed25519),
 * or, when the file does not exist, an EC P-256 key generated and written there with mode 0600.
 */
export async function loadOrCreateSigningKey(file: string): Promise<SigningKey> {
  let pem: string;
  try {
    pem = await readFile(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    pem = generateKeyPairSync('ec', { namedCurve: 'prime256v1' }).privateKey.export({ type: 'pkcs8', format: 'pem' }) as string;
    await mkdir(path.dirname(file), { recursive: true, mode: 0o700 });
    try {
      await writeFile(file, pem, { mode: 0o600, flag: 'wx' });
    } catch (raced) {
      // Another replica on the same storage wrote it first: use theirs.
      if ((raced as NodeJS.ErrnoException).code !== 'EEXIST') throw raced;
      pem = await readFile(file, 'utf8');
    }
  }
  const privateKey = createPrivateKey(pem);
  const publicKey = createPublicKey(privateKey);
  return { privateKey, publicKey, alg: algorithmOf(privateKey, file), kid: libtrustKeyId(publicKey) };
}

function algorithmOf(key: KeyObject, file: string): SigningKey['alg'] {
  const details = key.asymmetricKeyDetails ?? {};
  if (key.asymmetricKeyType === 'rsa') return 'RS256';
  if (key.asymmetricKeyType === 'ed25519') return 'EdDSA';
  if (key.asymmetricKeyType === 'ec') {
    const curve = { prime256v1: 'ES256', secp384r1: 'ES384', secp521r1: 'ES512' }[details.namedCurve ?? ''] as SigningKey['alg'] | undefined;
    if (curve) return curve;
  }
  throw new Error(`${file}: a token signing key must be RSA, EC (P-256, P-384, P-521) or Ed25519`);
}
