/**
 * The ceilings a push works under, measured once per run: node:crypto sha256 over one buffer, and
 * a sequential write to the disk both servers store on (the temp directory) without fsync, with
 * one fsync at the end, and with an fsync every 64 MiB.
 */
import { createHash } from 'node:crypto';
import { closeSync, fsyncSync, openSync, unlinkSync, writeSync } from 'node:fs';
import * as path from 'node:path';
import { layerChunks } from './layer-data.ts';
import { DISK_FSYNC_EVERY_MIB, DISK_MIB, HASH_MIB, MiB } from './settings.ts';
import { benchTmpDir } from '../lib/env.ts';

export interface Limits {
  sha256MBps: number;
  diskNoFsyncMBps: number;
  diskFsyncEndMBps: number;
  diskFsyncEvery64MBps: number;
}

const mbps = (bytes: number, seconds: number) => Math.round(bytes / 1e6 / seconds);
const secondsSince = (t: bigint) => Number(process.hrtime.bigint() - t) / 1e9;

/** One random MiB stands in for all (the layer generator's first content MiB). */
function randomMiB(): Buffer {
  const chunks = layerChunks(0, 2);
  chunks.next(); // the tar header
  return Buffer.from((chunks.next().value as Buffer).subarray(0, MiB));
}

function sha256MBps(): number {
  const buf = Buffer.allocUnsafe(HASH_MIB * MiB);
  const block = randomMiB();
  for (let i = 0; i < HASH_MIB; i++) block.copy(buf, i * MiB);
  const t = process.hrtime.bigint();
  createHash('sha256').update(buf).digest();
  return mbps(buf.length, secondsSince(t));
}

/** Writes DISK_MIB MiB in 1 MiB writes; fsync after every `fsyncEveryMiB` (0: never) and, if asked, at the end. */
function diskMBps(fsyncEveryMiB: number, fsyncAtEnd: boolean): number {
  const file = path.join(benchTmpDir(), `images-bench-disk-${process.pid}`);
  const block = randomMiB();
  const fd = openSync(file, 'w');
  try {
    const t = process.hrtime.bigint();
    for (let i = 1; i <= DISK_MIB; i++) {
      writeSync(fd, block);
      if (fsyncEveryMiB > 0 && i % fsyncEveryMiB === 0) fsyncSync(fd);
    }
    if (fsyncAtEnd) fsyncSync(fd);
    return mbps(DISK_MIB * MiB, secondsSince(t));
  } finally {
    closeSync(fd);
    unlinkSync(file);
  }
}

export function measureLimits(): Limits {
  return {
    sha256MBps: sha256MBps(),
    diskNoFsyncMBps: diskMBps(0, false),
    diskFsyncEndMBps: diskMBps(0, true),
    diskFsyncEvery64MBps: diskMBps(DISK_FSYNC_EVERY_MIB, true),
  };
}
