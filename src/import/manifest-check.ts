import type { Descriptor } from '../oci/descriptor.ts';
import { digestAlgorithm, digestOf, type Digest } from '../oci/digest.ts';
import { isRegistryError } from '../oci/errors.ts';
import { parseManifest, type ParsedManifest } from '../oci/manifest.ts';
import { ArchiveError } from './archive-error.ts';

/**
 * A manifest found in the archive, checked as the registry will check it when it is pushed (the
 * same parser), and against the descriptor that named it: a manifest the registry would refuse
 * is refused before anything is pushed.
 */
export function checkedManifest(where: string, content: Buffer, mediaType: string, expected?: Descriptor): ParsedManifest {
  if (expected) {
    const actual = digestOf(content, digestAlgorithm(expected.digest));
    if (actual !== expected.digest || content.length !== expected.size) {
      throw new ArchiveError(`${where}: its bytes do not match the descriptor that names it`, {
        entry: where,
        expected: { digest: expected.digest, size: expected.size },
        actual: { digest: actual, size: content.length },
      });
    }
  }
  try {
    return parseManifest(content, mediaType);
  } catch (err) {
    if (!isRegistryError(err)) throw err;
    throw new ArchiveError(`${where}: ${err.message}`, { entry: where, reason: err.message, ...(isObject(err.detail) ? err.detail : {}) });
  }
}

/** `blobs/<alg>/<hex>`: where an OCI layout keeps the blob of `digest`. */
export function blobPath(digest: Digest): string {
  const colon = digest.indexOf(':');
  return `blobs/${digest.slice(0, colon)}/${digest.slice(colon + 1)}`;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
