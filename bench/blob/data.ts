/** Blob bytes: deterministic, streamed, never held whole. */
import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import { BLOB_MIB, MiB } from './settings.ts';

/** A 1 MiB block from a seeded xorshift32; each MiB of the blob is this block with its index stamped in. */
function seedBlock(): Buffer {
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
const SEED = seedBlock();

function* blobChunks(): Generator<Buffer> {
  for (let i = 0; i < BLOB_MIB; i++) {
    const chunk = Buffer.allocUnsafe(MiB);
    SEED.copy(chunk);
    chunk.writeUInt32LE(i, 0);
    chunk.writeUInt32LE((i ^ 0x9e3779b9) >>> 0, MiB - 4);
    yield chunk;
  }
}

export function blobStream(): Readable {
  return Readable.from(blobChunks(), { objectMode: false, highWaterMark: 4 * MiB });
}

export function blobDigest(): string {
  const hash = createHash('sha256');
  for (const chunk of blobChunks()) hash.update(chunk);
  return `sha256:${hash.digest('hex')}`;
}
