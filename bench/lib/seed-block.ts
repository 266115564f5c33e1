const MiB = 1024 * 1024;

/** A 1 MiB block from a seeded xorshift32: deterministic blob bytes made fast, never stored whole. */
export function seedBlock(): Buffer {
  const words = new Uint32Array(MiB / 4);
  let x = 0x2545f491;
  for (let i = 0; i < words.length; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    words[i] = x >>> 0;
  }
  return Buffer.from(words.buffer);
}
