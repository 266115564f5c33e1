import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Worker, type WorkerOptions } from 'node:worker_threads';

/**
 * Starts `<name>` from the same folder as `caller` in a worker thread: compiled, as .js; from
 * source, as .ts through tsx, whose loader a worker does not inherit on Node 20, so the worker
 * registers it first.
 */
export function startThread(caller: string, name: string, options: WorkerOptions): Worker {
  const extension = path.extname(fileURLToPath(caller));
  const entry = new URL(`./${name}${extension}`, caller);
  if (extension !== '.ts') return new Worker(entry, options);
  const bootstrap = `import('tsx/esm/api').then((tsx) => { tsx.register(); return import(${JSON.stringify(entry.href)}); })`;
  return new Worker(bootstrap, { ...options, eval: true });
}
