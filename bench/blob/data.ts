/** Blob bytes: deterministic, streamed, never held whole. */
import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import { BLOB_MIB, MiB } from './settings.ts';
import { seedBlock } from '../lib/seed-block.ts';

// Each MiB of a blob is this block with its index stamped in.
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
