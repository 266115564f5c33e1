import { createHash, type KeyObject } from 'node:crypto';

const BASE32 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';

/**
 * libtrust's key id, which Distribution matches a token's `kid` against: the SHA-256 of the
 * DER public key, its first 240 bits in base32, as 12 groups of 4 characters joined by ':'.
 */
export function libtrustKeyId(publicKey: KeyObject): string {
  const bytes = createHash('sha256').update(publicKey.export({ type: 'spki', format: 'der' })).digest().subarray(0, 30);
  let text = '';
  let buffer = 0;
  let bits = 0;
  for (const byte of bytes) {
    buffer = (buffer << 8) | byte;
    bits += 8;
    while (bits >= 5) {
      text += BASE32[(buffer >>> (bits - 5)) & 31];
      bits -= 5;
    }
  }
  return text.match(/.{4}/g)!.join(':');
}
