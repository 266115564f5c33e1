import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Worker, type WorkerOptions } from 'node:worker_threads';

/**
 * A thread's young generation: V8 sizes it as the main thread's (up to 48 MB here), which these
 * threads' small, short-lived messages never need. 8 MB took 24 MB off the peak RSS under pulls
 * with a webhook, at the same pulls/s (BENCHMARKS.md, "Issue 12").
 */
const THREAD_LIMITS = { maxYoungGenerationSizeMb: 8 };

/**
 * Starts the module at `entry` (a path relative to `caller`, without its extension, e.g.
 * `./outbox/outbox-writer`) in a worker thread, with the caller's extension: compiled, as .js;
 * from source, as .ts through tsx, whose loader a worker does not inherit on Node 20, so the
 * worker registers it first.
 */
export function startThread(caller: string, entry: string, options: WorkerOptions): Worker {
  options = { resourceLimits: THREAD_LIMITS, ...options };
  const extension = path.extname(fileURLToPath(caller));
  const url = new URL(`${entry}${extension}`, caller);
  if (extension !== '.ts') return new Worker(url, options);
  const bootstrap = `import('tsx/esm/api').then((tsx) => { tsx.register(); return import(${JSON.stringify(url.href)}); })`;
  return new Worker(bootstrap, { ...options, eval: true });
}
