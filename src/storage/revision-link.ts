import type { Digest } from '../oci/digest.ts';

/**
 * A revision link holds the digest alone (Distribution's form, which we write). Dockyard before
 * the Distribution layout wrote JSON `{digest, mediaType}`; those stay readable.
 */
export interface RevisionLink {
  mediaType?: string;
}

export function parseRevisionLink(raw: Buffer): RevisionLink {
  const text = raw.toString('utf8');
  if (!text.startsWith('{')) return {};
  try {
    const json = JSON.parse(text) as { mediaType?: unknown };
    return typeof json.mediaType === 'string' ? { mediaType: json.mediaType } : {};
  } catch {
    return {};
  }
}

/** The subject of a stored manifest, read again when the manifest is deleted. */
export function subjectOf(body: Buffer): Digest | null {
  try {
    const json = JSON.parse(body.toString('utf8')) as { subject?: { digest?: string } };
    return (json.subject?.digest as Digest | undefined) ?? null;
  } catch {
    return null;
  }
}
