/** What the SDK's service errors carry that we look at. */
interface ServiceError {
  name?: string;
  Code?: string;
  $metadata?: { httpStatusCode?: number };
}

function fields(err: unknown): ServiceError {
  return typeof err === 'object' && err !== null ? (err as ServiceError) : {};
}

/** A missing key (GetObject's NoSuchKey, HeadObject's bare 404), not a missing bucket. */
export function isMissingKey(err: unknown): boolean {
  const e = fields(err);
  if (e.name === 'NoSuchBucket' || e.Code === 'NoSuchBucket') return false;
  return e.name === 'NoSuchKey' || e.name === 'NotFound' || e.$metadata?.httpStatusCode === 404;
}

/** The server does not implement the operation (s3rver: UploadPartCopy 501, AbortMultipartUpload 405). */
export function isNotImplemented(err: unknown): boolean {
  const e = fields(err);
  const status = e.$metadata?.httpStatusCode;
  return e.name === 'NotImplemented' || e.name === 'MethodNotAllowed' || status === 501 || status === 405;
}

/** A Range that starts at or after the end of the object. */
export function isInvalidRange(err: unknown): boolean {
  const e = fields(err);
  return e.name === 'InvalidRange' || e.$metadata?.httpStatusCode === 416;
}
