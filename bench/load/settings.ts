/** Knobs and constants of the load benchmark (see bench/load.ts). */
import { intEnv } from '../lib/env.ts';

export const CLIENTS = intEnv('BENCH_LOAD_CLIENTS', 50, 1, 512);
export const LOAD_S = intEnv('BENCH_LOAD_S', 60, 1, 600);
export const ROUNDS = intEnv('BENCH_ROUNDS', 1, 1, 10);
/** A client stops after this many push-and-pull cycles even if time is left (a bound on the data written). */
export const MAX_CYCLES = intEnv('BENCH_LOAD_MAX_CYCLES', 5000, 1, 1_000_000);
/** Size of each image's random layer. */
export const LAYER_BYTES = intEnv('BENCH_LOAD_LAYER_BYTES', 4096, 1, 1 << 20);
/** Repositories the clients share (client i pushes into repository i mod REPOS). */
export const REPOS = intEnv('BENCH_LOAD_REPOS', 4, 1, 64);
/** Every HEAD_EVERY-th cycle of a client also sends a HEAD of the manifest and of the layer. */
export const HEAD_EVERY = intEnv('BENCH_LOAD_HEAD_EVERY', 4, 1, 1000);
/** How long, after the load, the receiver may take to get every expected event. */
export const EVENT_WAIT_S = intEnv('BENCH_LOAD_EVENT_WAIT_S', 60, 1, 600);

export const OVERALL_TIMEOUT_MS = (ROUNDS * 2 * (LOAD_S + EVENT_WAIT_S + 60) + 120) * 1000;
export const READY_TIMEOUT_MS = 30_000;
export const STOP_TIMEOUT_MS = 10_000;
/** A request that has not answered in this long counts as a transport error. */
export const REQUEST_TIMEOUT_MS = 30_000;
export const EVENT_POLL_MS = 100;
/** At most this many error details are kept per server (the counts are complete). */
export const ERROR_SAMPLES = 20;

export const REPO_PREFIX = 'load/r';
export const MANIFEST_TYPE = 'application/vnd.oci.image.manifest.v1+json';
