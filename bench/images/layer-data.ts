/**
 * Layer bytes for the big image: a one-file tar whose content is pseudo-random (a seeded
 * xorshift32 per MiB, so no two MiB repeat and nothing compresses), made as a stream.
 */
import { seedBlock } from '../lib/seed-block.ts';
import { MiB } from './settings.ts';

const TAR_BLOCK = 512;

/** A ustar header for one regular file of `size` bytes. */
function tarHeader(name: string, size: number): Buffer {
  const h = Buffer.alloc(TAR_BLOCK, 0);
  const put = (s: string, off: number, len: number) => h.write(s.slice(0, len), off, len, 'ascii');
  const octal = (n: number, len: number) => n.toString(8).padStart(len - 1, '0');
  put(name, 0, 100);
  put(`${octal(0o644, 8)}\0`, 100, 8);
  put(`${octal(0, 8)}\0`, 108, 8);
  put(`${octal(0, 8)}\0`, 116, 8);
  put(`${octal(size, 12)}\0`, 124, 12);
  put(`${octal(0, 12)}\0`, 136, 12);
  put('        ', 148, 8); // checksum field counts as spaces while summing
  put('0', 156, 1);
  put('ustar\0', 257, 6);
  put('00', 263, 2);
  let sum = 0;
  for (const b of h) sum += b;
  put(`${sum.toString(8).padStart(6, '0')}\0 `, 148, 8);
  return h;
}

/**
 * The chunks of layer `layer`: exactly `mib` MiB, a tar of one file (header, content, the
 * two zero end blocks) so that the layer is what its media type says.
 */
export function* layerChunks(layer: number, mib: number): Generator<Buffer> {
  const total = mib * MiB;
  const contentBytes = total - 3 * TAR_BLOCK;
  yield tarHeader(`data-${layer}.bin`, contentBytes);
  let left = contentBytes;
  for (let i = 0; left > 0; i++) {
    const chunk = seedBlock(Math.imul(layer + 1, 0x9e3779b1) ^ Math.imul(i + 1, 0x85ebca6b));
    const n = Math.min(left, chunk.length);
    yield n === chunk.length ? chunk : chunk.subarray(0, n);
    left -= n;
  }
  yield Buffer.alloc(2 * TAR_BLOCK, 0);
}
