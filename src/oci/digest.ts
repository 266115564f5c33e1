import { createHash, type Hash } from 'node:crypto';
import { RegistryError } from './errors.ts';

/** A digest string (`algorithm:hex`) that has been validated by `parseDigest`. */
export type Digest = string & { readonly __brand: 'Digest' };

export type DigestAlgorithm = 'sha256' | 'sha512';

const HEX_LENGTH: Record<DigestAlgorithm, number> = { sha256: 64, sha512: 128 };
const DIGEST_SHAPE = /^([a-z0-9]+(?:[+._-][a-z0-9]+)*):([a-zA-Z0-9=_-]+)$/;

export function isSupportedAlgorithm(alg: string): alg is DigestAlgorithm {
  return alg === 'sha256' || alg === 'sha512';
}

/** Validates a digest; throws DIGEST_INVALID, with a detail saying what is wrong, otherwise. */
export function parseDigest(value: string): Digest {
  const match = DIGEST_SHAPE.exec(value);
  if (!match) {
    throw new RegistryError('DIGEST_INVALID', `invalid digest "${truncate(value)}"`, {
      detail: { digest: truncate(value), expected: '<algorithm>:<hex>' },
    });
  }
  const alg = match[1]!;
  const hex = match[2]!;
  if (!isSupportedAlgorithm(alg)) {
    throw new RegistryError('DIGEST_INVALID', `unsupported digest algorithm "${truncate(alg)}"`, {
      detail: { digest: truncate(value), algorithm: truncate(alg), supported: Object.keys(HEX_LENGTH) },
    });
  }
  if (hex.length !== HEX_LENGTH[alg] || !/^[a-f0-9]+$/.test(hex)) {
    throw new RegistryError('DIGEST_INVALID', `invalid ${alg} digest "${truncate(value)}"`, {
      detail: { digest: truncate(value), algorithm: alg, hexLength: hex.length, expected: `${HEX_LENGTH[alg]} lowercase hex digits` },
    });
  }
  return value as Digest;
}

export function tryParseDigest(value: string): Digest | null {
  try {
    return parseDigest(value);
  } catch {
    return null;
  }
}

export function digestAlgorithm(digest: Digest): DigestAlgorithm {
  return digest.slice(0, digest.indexOf(':')) as DigestAlgorithm;
}

export function digestHex(digest: Digest): string {
  return digest.slice(digest.indexOf(':') + 1);
}

export function createDigester(alg: DigestAlgorithm = 'sha256'): Hash {
  return createHash(alg);
}

export function digestOf(data: Buffer | string, alg: DigestAlgorithm = 'sha256'): Digest {
  return `${alg}:${createHash(alg).update(data).digest('hex')}` as Digest;
}

export function finishDigest(hash: Hash, alg: DigestAlgorithm): Digest {
  return `${alg}:${hash.digest('hex')}` as Digest;
}

function truncate(s: string): string {
  return s.length > 100 ? `${s.slice(0, 100)}…` : s;
}
