/** Knobs and constants of the image push/pull benchmark (see bench/images.ts). */
import { intEnv } from '../lib/env.ts';

export const MiB = 1024 * 1024;

export const ROUNDS = intEnv('BENCH_ROUNDS', 3, 1, 10);
/** The big image: BENCH_LAYERS layers of BENCH_LAYER_MIB MiB each, pushed and pulled with skopeo. */
export const LAYER_MIB = intEnv('BENCH_LAYER_MIB', 256, 1, 4096);
export const LAYERS = intEnv('BENCH_LAYERS', 3, 1, 16);
/** Distinct small images (one ~1 KiB layer, a config, a manifest) per small-push row. */
export const SMALL_IMAGES = intEnv('BENCH_SMALL_IMAGES', 500, 1, 100_000);
export const PUSH_CLIENTS = intEnv('BENCH_PUSH_CLIENTS', 8, 1, 64);
/** The limit rows: sha256 over a buffer of this size, and a sequential file write of this size. */
export const HASH_MIB = intEnv('BENCH_HASH_MIB', 256, 1, 4096);
export const DISK_MIB = intEnv('BENCH_DISK_MIB', 1024, 64, 16_384);
export const DISK_FSYNC_EVERY_MIB = 64;

/** Dockyard's entry under node: dist/main.js (built first), or a prebuilt one elsewhere (then not built). */
export const DOCKYARD_ENTRY = process.env.BENCH_DOCKYARD_ENTRY || 'dist/main.js';

export const OVERALL_TIMEOUT_MS = intEnv('BENCH_TIMEOUT_S', 45 * 60, 60, 4 * 3600) * 1000;
/** One skopeo copy, and one small-image push row, must finish within these. */
export const SKOPEO_TIMEOUT_MS = 10 * 60_000;
export const SMALL_ROW_TIMEOUT_MS = 10 * 60_000;
export const READY_TIMEOUT_MS = 30_000;
export const STOP_TIMEOUT_MS = 10_000;

export const BIG_REPO = 'bench/big';
export const BIG_TAG = 'v1';
export const SMALL_REPO = 'bench/small';
export const SMALL_LAYER_BYTES = 1024;

export const MANIFEST_TYPE = 'application/vnd.oci.image.manifest.v1+json';
export const CONFIG_TYPE = 'application/vnd.oci.image.config.v1+json';
export const LAYER_TYPE = 'application/vnd.oci.image.layer.v1.tar';

export type ServerKind = 'dockyard' | 'distribution';
export const LABEL: Record<ServerKind, string> = { dockyard: 'Dockyard', distribution: 'Distribution 2.8.2' };

/** The measured workloads, in table order. */
export type Workload = 'push' | 'pull' | 'small-seq' | 'small-concurrent';
export const WORKLOADS: readonly Workload[] = ['push', 'pull', 'small-seq', 'small-concurrent'];

/** The sizes a run used, saved with its results so that a re-render describes that run. */
export interface Sizes {
  rounds: number;
  layerMib: number;
  layers: number;
  smallImages: number;
  pushClients: number;
  hashMib: number;
  diskMib: number;
  diskFsyncEveryMib: number;
}

export const SIZES: Sizes = {
  rounds: ROUNDS,
  layerMib: LAYER_MIB,
  layers: LAYERS,
  smallImages: SMALL_IMAGES,
  pushClients: PUSH_CLIENTS,
  hashMib: HASH_MIB,
  diskMib: DISK_MIB,
  diskFsyncEveryMib: DISK_FSYNC_EVERY_MIB,
};
