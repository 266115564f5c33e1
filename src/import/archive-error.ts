/**
 * An uploaded archive that cannot be imported: not a tar, neither an OCI layout nor a `docker
 * save` tarball, or broken inside (a blob whose bytes do not match its digest, a manifest naming
 * a blob the archive lacks). Knows nothing of HTTP; the route maps it to IMPORT_INVALID.
 */
export class ArchiveError extends Error {
  constructor(
    message: string,
    readonly detail: Record<string, unknown> = {},
  ) {
    super(message);
    this.name = 'ArchiveError';
  }
}

export function isArchiveError(err: unknown): err is ArchiveError {
  return err instanceof ArchiveError;
}
