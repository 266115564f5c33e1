import { MANIFEST_MEDIA_TYPES, MediaType } from '../oci/media-types.ts';

/** Docker schema 1 (Distribution may hold these; we neither accept nor convert them). */
const SCHEMA1_SIGNED = 'application/vnd.docker.distribution.manifest.v1+prettyjws';
const SCHEMA1 = 'application/vnd.docker.distribution.manifest.v1+json';

/**
 * The media type of stored manifest bytes, read from the bytes as Distribution does (it keeps
 * none beside them): the `mediaType` field when it names a manifest type, else an OCI index
 * when the manifest lists `manifests` and no `config`, else an OCI image manifest. Null when
 * the bytes are not a manifest at all.
 */
export function mediaTypeOfContent(body: Buffer): string | null {
  let json: unknown;
  try {
    json = JSON.parse(body.toString('utf8'));
  } catch {
    return null;
  }
  if (typeof json !== 'object' || json === null || Array.isArray(json)) return null;
  const m = json as { mediaType?: unknown; schemaVersion?: unknown; manifests?: unknown; config?: unknown; signatures?: unknown };
  if (m.schemaVersion === 1) return Array.isArray(m.signatures) ? SCHEMA1_SIGNED : SCHEMA1;
  if (typeof m.mediaType === 'string' && MANIFEST_MEDIA_TYPES.includes(m.mediaType)) return m.mediaType;
  if (typeof m.mediaType === 'string' && m.mediaType !== '') return null;
  if (Array.isArray(m.manifests) && m.config === undefined) return MediaType.OciIndex;
  if (typeof m.config === 'object' && m.config !== null) return MediaType.OciManifest;
  return null;
}
