import { randomUUID } from 'node:crypto';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Failpoints } from '../../src/storage/failpoints.ts';
import { S3Driver } from '../../src/storage/s3/s3-driver.ts';
import { startS3rver, type TestS3 } from '../helpers/s3rver.ts';
import { runChain, type ChainStorage } from './crash-chain.ts';
import { checkDriverFiles } from './crash-checks.ts';
import { blobChunked, blobMonolithic, manifestPush, type CrashCase } from './crash-operations.ts';

/**
 * The crash test of crash-points.test.ts on S3 (s3rver): the registry runs as a child process on
 * the bucket and dies in the steps only shared storage has, where a completion moved the upload's
 * data to a key of its own (staged) and where it has re-hashed those bytes (verified), each with
 * a monolithic and a chunked upload. After the restart the store serves nothing half-written,
 * its events match it, and the interrupted completion, sent again, publishes the blob. A manifest
 * push killed between them checks the rest of the store on S3 too.
 */

const F = Failpoints;
const CHAINS: CrashCase[][] = [
  [
    { failpoint: F.publishStaged, op: blobMonolithic },
    { failpoint: F.manifestWritten, op: manifestPush(true) },
    { failpoint: F.publishVerified, op: blobChunked },
  ],
  [
    { failpoint: F.publishVerified, op: blobMonolithic },
    { failpoint: F.referrerAdded, op: manifestPush(false, true) },
    { failpoint: F.publishStaged, op: blobChunked },
  ],
] as CrashCase[][];

describe('crash in the verified publish of an upload on S3', { concurrency: CHAINS.length }, () => {
  let s3: TestS3;
  before(async () => {
    s3 = await startS3rver();
  });
  after(() => s3?.stop());

  /** A fresh root in the bucket per chain, checked through an S3 driver of this process. */
  const bucket = async (dir: string): Promise<ChainStorage> => {
    const root = `crash-${randomUUID()}`;
    const driver = new S3Driver(s3.driverOptions(root));
    return {
      storage: { s3: s3.storageConfig(root), redirect: { disable: true }, delete: { enabled: true } },
      outbox: { path: path.join(dir, 'outbox.sqlite') },
      checkFiles: () => checkDriverFiles(driver),
    };
  };

  CHAINS.forEach((cases, i) => {
    it(`chain ${i + 1} (${cases.length} kill points)`, (t) => runChain(t, cases, bucket));
  });
});
