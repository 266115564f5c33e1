import * as path from 'node:path';
import { z } from 'zod';
import { bool, int } from './types.ts';

const GIB = 1024 * 1024 * 1024;

/** Dockyard's `ui`: the test bed pages under /ui/ and what they accept. */
export const uiSchema = z
  .strictObject({
    /** Off: no /ui/ route is registered at all (the image import included). */
    enabled: bool.default(true),
    import: z
      .strictObject({
        /** The largest archive `POST /ui/import` accepts, in bytes; a larger one is answered 413. */
        maxsize: int(1).default(2 * GIB),
      })
      .prefault({}),
  })
  .prefault({});

export type UiConfig = z.infer<typeof uiSchema>;

/** The image import's options, as the route uses them. */
export interface ImportOptions {
  maxBytes: number;
  /** Where uploaded archives are spooled while they are imported (the registry's own). */
  spoolDir: string;
}

export interface UiOptions {
  enabled: boolean;
  import: ImportOptions;
}

/**
 * The one place the `ui` keys become plain options. Archives are spooled in
 * `<state directory>/_import` (the storage root, or ./data with S3): on the registry's disk,
 * beside its other state, rather than in a /tmp that may be a small tmpfs.
 */
export function uiOptions(config: UiConfig, defaults: { stateDir: string }): UiOptions {
  return {
    enabled: config.enabled,
    import: { maxBytes: config.import.maxsize, spoolDir: path.join(defaults.stateDir, '_import') },
  };
}
