/**
 * Knobs of the token-auth request bench (see bench/auth-requests.ts). BENCH_ROUNDS,
 * BENCH_DURATION_S and BENCH_CONCURRENCY are the request bench's own (bench/requests/settings.ts),
 * read by its load generators.
 */
import { intEnv } from '../lib/env.ts';

export { CONCURRENCY, DURATION_S, MANIFEST_TYPE, ROUNDS } from '../requests/settings.ts';

/** 1: the token's header carries the certificate (`x5c`) besides `kid`; 0: `kid` alone. */
export const X5C = intEnv('BENCH_AUTH_X5C', 1, 0, 1) === 1;
export const REPO = 'bench/auth';
export const TAG = 'v1';
export const SERVICE = 'bench';
export const ISSUER = 'bench';
/** Never asked: the bench signs its own token, and the servers only name the realm in challenges. */
export const REALM = 'http://127.0.0.1:1/token';
export const TOKEN_LIFETIME_S = 4 * 3600;
export const OVERALL_TIMEOUT_MS = 20 * 60_000;
export const STOP_TIMEOUT_MS = 10_000;

export interface AuthRow {
  id: string;
  title: string;
  method: 'GET' | 'HEAD';
}

export const ROWS: AuthRow[] = [
  { id: 'head-auth', title: 'manifest HEAD by tag, token auth', method: 'HEAD' },
  { id: 'get-auth', title: 'manifest GET by tag, token auth', method: 'GET' },
];
