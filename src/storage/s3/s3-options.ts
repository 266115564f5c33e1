/** S3 refuses parts smaller than this, except the last part of an upload. */
export const MIN_PART_SIZE = 5 * 1024 * 1024;
/** The largest part (and the largest single CopyObject) S3 accepts. */
export const MAX_PART_SIZE = 5 * 1024 * 1024 * 1024;
/** Distribution's defaults (registry/storage/driver/s3-aws/s3.go). */
export const DEFAULT_CHUNK_SIZE = 2 * MIN_PART_SIZE;
export const DEFAULT_MULTIPART_COPY_CHUNK_SIZE = 32 * 1024 * 1024;
export const DEFAULT_MULTIPART_COPY_THRESHOLD_SIZE = 32 * 1024 * 1024;
/** Attempts per request, first included; the SDK's standard strategy spaces them (throttling, 5xx, network). */
export const DEFAULT_MAX_ATTEMPTS = 5;

/** What the S3 driver is built from: `storage.s3` read and checked by src/config/storage.ts. */
export interface S3DriverOptions {
  bucket: string;
  region: string;
  /** An S3-compatible endpoint (`http://minio:9000`, `s3.example.com`); the AWS one for `region` when absent. */
  regionEndpoint?: string;
  forcePathStyle: boolean;
  /** Both or neither: without them the default AWS credential chain is used (env, profile, IAM role). */
  accessKey?: string;
  secretKey?: string;
  /** Key prefix everything is kept under, without leading or trailing slashes; '' is the bucket root. */
  rootDirectory: string;
  encrypt: boolean;
  /** A KMS key (with `encrypt`); SSE-S3 (AES256) without it. */
  keyId?: string;
  /** https (true) or http for an endpoint given without a scheme, and for the AWS endpoints. */
  secure: boolean;
  skipVerify: boolean;
  /** Sent with every object written; undefined for Distribution's `NONE` (the endpoint's default). */
  storageClass?: string;
  /** Size of the parts a writer uploads, and the most it holds in memory. */
  chunkSize: number;
  multipartCopyChunkSize: number;
  /** Objects larger than this are copied (moved) with a multipart copy. */
  multipartCopyThresholdSize: number;
  maxAttempts?: number;
}
