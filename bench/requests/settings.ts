/** Knobs and constants of the request-rate benchmark (see bench/requests.ts). */
import { intEnv } from '../lib/env.ts';

export const ROUNDS = intEnv('BENCH_ROUNDS', 3, 1, 10);
export const DURATION_S = intEnv('BENCH_DURATION_S', 8, 1, 60);
export const CONCURRENCY = intEnv('BENCH_CONCURRENCY', 32, 1, 256);
/** wrk threads: one per core of this 2-core machine; more only steals CPU from the server. */
export const WRK_THREADS = intEnv('BENCH_WRK_THREADS', 2, 1, 16);
export const OVERALL_TIMEOUT_MS = 20 * 60_000;
export const READY_TIMEOUT_MS = 30_000;
export const STOP_TIMEOUT_MS = 10_000;
/** Extra time a load generator gets past its duration before it is killed (its run is bounded). */
export const LOAD_GRACE_MS = 15_000;
export const LIMIT_BODY_BYTES = 700;

export const REPO = 'bench/requests';
export const TAG = 'v1';
export const BLOB_BYTES = 1024 * 1024;
export const MANIFEST_TYPE = 'application/vnd.oci.image.manifest.v1+json';

export type ServerKind = 'dockyard' | 'distribution';
export const LABEL: Record<ServerKind, string> = { dockyard: 'Dockyard', distribution: 'Distribution 2.8.2' };

/** A measured row: what is requested, with which method, and whether the servers have a webhook. */
export interface RowSpec {
  id: string;
  title: string;
  method: 'GET' | 'HEAD';
  target: 'manifest' | 'blob';
  notify: boolean;
}

export const ROWS: RowSpec[] = [
  { id: 'head', title: 'manifest HEAD by tag', method: 'HEAD', target: 'manifest', notify: false },
  { id: 'get', title: 'manifest GET by tag', method: 'GET', target: 'manifest', notify: false },
  { id: 'blob', title: 'blob GET (1 MiB)', method: 'GET', target: 'blob', notify: false },
  { id: 'head-notify', title: 'manifest HEAD by tag, webhook on', method: 'HEAD', target: 'manifest', notify: true },
  { id: 'get-notify', title: 'manifest GET by tag, webhook on', method: 'GET', target: 'manifest', notify: true },
];
