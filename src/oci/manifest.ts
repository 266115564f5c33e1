import { z } from 'zod';
import { RegistryError } from './errors.ts';
import { tryParseDigest, type Digest } from './digest.ts';
import type { Descriptor } from './descriptor.ts';
import { MANIFEST_MEDIA_TYPES, MediaType, isIndexMediaType } from './media-types.ts';

/** The largest manifest we accept, as Distribution and most registries do. */
export const MAX_MANIFEST_BYTES = 4 * 1024 * 1024;

const digestString = z.string().refine((v) => tryParseDigest(v) !== null, { message: 'invalid digest' });
const annotations = z.record(z.string(), z.string());

const descriptorSchema = z.object({
  mediaType: z.string().min(1),
  digest: digestString,
  size: z.number().int().nonnegative(),
  urls: z.array(z.string()).optional(),
  annotations: annotations.optional(),
  artifactType: z.string().optional(),
  platform: z.record(z.string(), z.unknown()).optional(),
});

const imageManifestSchema = z.object({
  schemaVersion: z.literal(2),
  mediaType: z.string().optional(),
  artifactType: z.string().optional(),
  config: descriptorSchema,
  layers: z.array(descriptorSchema),
  subject: descriptorSchema.optional(),
  annotations: annotations.optional(),
});

const indexSchema = z.object({
  schemaVersion: z.literal(2),
  mediaType: z.string().optional(),
  artifactType: z.string().optional(),
  manifests: z.array(descriptorSchema),
  subject: descriptorSchema.optional(),
  annotations: annotations.optional(),
});

/** What the registry needs to know about a manifest it was given. */
export interface ParsedManifest {
  mediaType: string;
  /** Blobs that must be present in the repository (config and layers). */
  blobs: Descriptor[];
  /** Manifests that must be present in the repository (children of an index). */
  manifests: Descriptor[];
  /** Every descriptor the manifest references, in order, foreign layers included. */
  references: Descriptor[];
  subject?: Descriptor;
  /** The manifest's artifact type as the referrers API reports it. */
  artifactType?: string;
  annotations?: Record<string, string>;
}

/** Strips parameters: `application/json; charset=utf-8` -> `application/json`. */
export function baseMediaType(contentType: string | undefined): string {
  return (contentType ?? '').split(';')[0]!.trim().toLowerCase();
}

/**
 * Parses and validates a manifest body. The media type comes from the request's Content-Type
 * and must agree with the manifest's own `mediaType` field when both are given.
 */
export function parseManifest(content: Buffer, contentType: string | undefined): ParsedManifest {
  if (content.length > MAX_MANIFEST_BYTES) {
    throw new RegistryError('MANIFEST_INVALID', `manifest is larger than ${MAX_MANIFEST_BYTES} bytes`, {
      status: 413,
      detail: { size: content.length, limit: MAX_MANIFEST_BYTES },
    });
  }
  let json: unknown;
  try {
    json = JSON.parse(content.toString('utf8'));
  } catch (err) {
    const reason = (err as Error).message.slice(0, 200);
    throw new RegistryError('MANIFEST_INVALID', `manifest is not valid JSON: ${reason}`, { detail: { reason } });
  }
  if (typeof json !== 'object' || json === null || Array.isArray(json)) {
    throw new RegistryError('MANIFEST_INVALID', 'manifest must be a JSON object', {
      detail: { got: json === null ? 'null' : Array.isArray(json) ? 'array' : typeof json },
    });
  }
  const declared = (json as { mediaType?: unknown }).mediaType;
  const header = baseMediaType(contentType);
  let mediaType: string;
  if (MANIFEST_MEDIA_TYPES.includes(header)) {
    if (typeof declared === 'string' && declared !== header) {
      throw new RegistryError('MANIFEST_INVALID', `manifest mediaType "${declared.slice(0, 200)}" does not match Content-Type "${header.slice(0, 200)}"`, {
        detail: { mediaType: declared.slice(0, 200), contentType: header.slice(0, 200) },
      });
    }
    mediaType = header;
  } else if (typeof declared === 'string' && MANIFEST_MEDIA_TYPES.includes(declared) && isGenericType(header)) {
    mediaType = declared;
  } else {
    const shown = (header || (typeof declared === 'string' ? declared : '(none)')).slice(0, 200);
    throw new RegistryError('MANIFEST_INVALID', `unsupported manifest media type "${shown}"`, {
      detail: { supported: MANIFEST_MEDIA_TYPES },
    });
  }

  if (isIndexMediaType(mediaType)) {
    const index = check(indexSchema, json);
    return {
      mediaType,
      blobs: [],
      manifests: index.manifests.map(toDescriptor),
      references: index.manifests.map(toDescriptor),
      subject: index.subject && toDescriptor(index.subject),
      // The spec: an empty artifactType is the same as none.
      artifactType: index.artifactType || undefined,
      annotations: index.annotations,
    };
  }
  const manifest = check(imageManifestSchema, json);
  // Foreign (non-distributable) layers live elsewhere, at their `urls`; they are not required here.
  const blobs = [manifest.config, ...manifest.layers].filter((d) => !(d.urls && d.urls.length > 0));
  return {
    mediaType,
    blobs: blobs.map(toDescriptor),
    manifests: [],
    references: [manifest.config, ...manifest.layers].map(toDescriptor),
    subject: manifest.subject && toDescriptor(manifest.subject),
    // The spec: with no (or an empty) artifactType, an image's artifact type is its config's media type.
    artifactType: manifest.artifactType || manifest.config.mediaType,
    annotations: manifest.annotations,
  };
}


function isGenericType(header: string): boolean {
  return header === '' || header === 'application/json' || header === MediaType.OctetStream;
}

function check<T>(schema: z.ZodType<T>, json: unknown): T {
  const result = schema.safeParse(json);
  if (!result.success) {
    const issue = result.error.issues[0];
    const where = issue && issue.path.length > 0 ? ` at "${issue.path.join('.')}"` : '';
    throw new RegistryError('MANIFEST_INVALID', `manifest invalid${where}: ${issue?.message ?? 'schema mismatch'}`, {
      detail: result.error.issues.slice(0, 5).map((i) => ({ path: i.path.join('.'), message: i.message })),
    });
  }
  return result.data;
}

function toDescriptor(d: z.infer<typeof descriptorSchema>): Descriptor {
  const out: Descriptor = { mediaType: d.mediaType, digest: d.digest as Digest, size: d.size };
  if (d.artifactType !== undefined) out.artifactType = d.artifactType;
  if (d.annotations !== undefined) out.annotations = d.annotations;
  if (d.platform !== undefined) out.platform = d.platform;
  if (d.urls !== undefined) out.urls = d.urls;
  return out;
}
