import { Agent } from 'node:https';
import { S3Client, type S3ClientConfig } from '@aws-sdk/client-s3';
import { DEFAULT_MAX_ATTEMPTS, type S3DriverOptions } from './s3-options.ts';

/** A TCP connection that is not up after this long is a failed attempt (retried by the SDK). */
const CONNECTION_TIMEOUT_MS = 10_000;

/** The SDK client for the driver's options; nothing is sent until the first request. */
export function createS3Client(options: S3DriverOptions): S3Client {
  const config: S3ClientConfig = {
    region: options.region,
    forcePathStyle: options.forcePathStyle,
    maxAttempts: options.maxAttempts ?? DEFAULT_MAX_ATTEMPTS,
    // Checksums only where the API requires one: S3-compatible servers (MinIO releases, Ceph,
    // s3rver) do not all know the newer trailing checksums the SDK otherwise adds to every write.
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
    requestHandler: {
      connectionTimeout: CONNECTION_TIMEOUT_MS,
      ...(options.skipVerify ? { httpsAgent: new Agent({ keepAlive: true, rejectUnauthorized: false }) } : {}),
    },
  };
  if (options.regionEndpoint) config.endpoint = endpointUrl(options.regionEndpoint, options.secure);
  else if (!options.secure) config.tls = false;
  if (options.accessKey && options.secretKey) {
    config.credentials = { accessKeyId: options.accessKey, secretAccessKey: options.secretKey };
  }
  return new S3Client(config);
}

/** As Distribution: an endpoint without a scheme gets https, or http when `secure` is false. */
export function endpointUrl(endpoint: string, secure: boolean): string {
  return /^[a-z][a-z0-9+.-]*:\/\//i.test(endpoint) ? endpoint : `${secure ? 'https' : 'http'}://${endpoint}`;
}
