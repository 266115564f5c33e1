import type { Digest } from '../oci/digest.ts';
import type { Tag } from '../oci/names.ts';
import type { ManifestReference } from '../storage/repository.ts';

/** Where a blob's bytes come from: a regular file of the archive (streamed), or bytes in hand (small). */
export type BlobSource = { entry: string; data?: undefined } | { data: Buffer; entry?: undefined };

export interface PlannedBlob {
  digest: Digest;
  size: number;
  source: BlobSource;
}

export interface PlannedManifest {
  reference: ManifestReference;
  digest: Digest;
  mediaType: string;
  content: Buffer;
}

/**
 * Everything one import pushes, in order: the blobs first, then the manifests, each after every
 * manifest it names (an index's children before it), the last one tagged. Built and checked
 * whole before anything is pushed, so a broken archive is refused before the store is touched.
 */
export interface PushPlan {
  format: 'oci-layout' | 'docker-archive';
  blobs: PlannedBlob[];
  manifests: PlannedManifest[];
  tag: Tag;
}

/** The manifest the plan ends with: the one its tag names. */
export function topManifest(plan: PushPlan): PlannedManifest {
  const top = plan.manifests.at(-1);
  if (!top) throw new Error('a push plan without a manifest'); // built by this module's planners, never empty
  return top;
}
