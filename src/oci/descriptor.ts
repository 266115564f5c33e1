import type { Digest } from './digest.ts';

/** An OCI content descriptor, as it appears in manifests, indexes and the referrers list. */
export interface Descriptor {
  mediaType: string;
  digest: Digest;
  size: number;
  artifactType?: string;
  annotations?: Record<string, string>;
  platform?: Record<string, unknown>;
  urls?: string[];
}
