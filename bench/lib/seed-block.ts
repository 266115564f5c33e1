const MiB = 1024 * 1024;

/**
 * A 1 MiB block from a seeded xorshift32 (a 0 seed takes the default): deterministic blob bytes
 * made fast, never stored whole; a different seed per MiB makes bytes nothing compresses.
 */
export function seedBlock(seed = 0x2545f491): Buffer {
  const words = new Uint32Array(MiB / 4);
  let x = seed >>> 0 || 0x2545f491;
  for (let i = 0; i < words.length; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    words[i] = x >>> 0;
  }
  return Buffer.from(words.buffer);
}
