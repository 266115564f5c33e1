import { mkdtemp, rm } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import S3rver from 's3rver';
import { addMultipartUploadListing, fixS3rverStore } from './s3rver-fixes.ts';
import { DEFAULT_CHUNK_SIZE, DEFAULT_MULTIPART_COPY_CHUNK_SIZE, DEFAULT_MULTIPART_COPY_THRESHOLD_SIZE, type S3DriverOptions } from '../../src/storage/s3/s3-options.ts';

export const TEST_BUCKET = 'dockyard-test';

export interface TestS3 {
  /** `http://127.0.0.1:<port>` */
  endpoint: string;
  bucket: string;
  /** S3 driver options for this server under `rootDirectory` (a fresh prefix per driver keeps tests apart). */
  driverOptions(rootDirectory: string, overrides?: Partial<S3DriverOptions>): S3DriverOptions;
  /** A Distribution-style `storage.s3` section for this server. */
  storageConfig(rootdirectory: string): Record<string, unknown>;
  stop(): Promise<void>;
}

/**
 * s3rver in this process on a free loopback port, storing into a fresh temp directory, with one
 * bucket. `multipartListing`: it also lists and aborts multipart uploads (s3rver alone answers
 * 501 and 405), for the upload purger's abort path; without it, the path where the storage
 * cannot list them is what a test sees.
 */
export async function startS3rver(options: { multipartListing?: boolean } = {}): Promise<TestS3> {
  const directory = await mkdtemp(path.join(tmpdir(), 'dockyard-s3rver-'));
  const server = new S3rver({ port: 0, address: '127.0.0.1', silent: true, directory, configureBuckets: [{ name: TEST_BUCKET, configs: [] }] });
  const store = (server as unknown as { store: Parameters<typeof fixS3rverStore>[0] }).store;
  fixS3rverStore(store);
  if (options.multipartListing) addMultipartUploadListing(server as unknown as Parameters<typeof addMultipartUploadListing>[0], store);
  const address = (await server.run()) as AddressInfo;
  const endpoint = `http://127.0.0.1:${address.port}`;
  return {
    endpoint,
    bucket: TEST_BUCKET,
    driverOptions: (rootDirectory, overrides = {}) => ({
      bucket: TEST_BUCKET,
      region: 'us-east-1',
      regionEndpoint: endpoint,
      forcePathStyle: true,
      accessKey: 'S3RVER',
      secretKey: 'S3RVER',
      rootDirectory,
      encrypt: false,
      secure: false,
      skipVerify: false,
      chunkSize: DEFAULT_CHUNK_SIZE,
      multipartCopyChunkSize: DEFAULT_MULTIPART_COPY_CHUNK_SIZE,
      multipartCopyThresholdSize: DEFAULT_MULTIPART_COPY_THRESHOLD_SIZE,
      maxAttempts: 2,
      ...overrides,
    }),
    storageConfig: (rootdirectory) => ({
      bucket: TEST_BUCKET,
      region: 'us-east-1',
      regionendpoint: endpoint,
      forcepathstyle: true,
      accesskey: 'S3RVER',
      secretkey: 'S3RVER',
      rootdirectory,
      // s3rver keeps no storage classes.
      storageclass: 'NONE',
    }),
    async stop() {
      await server.close();
      await rm(directory, { recursive: true, force: true });
    },
  };
}
