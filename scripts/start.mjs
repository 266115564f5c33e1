#!/usr/bin/env node
// `npm start [-- config.yml]`: `dockyard serve` on the compiled output, in this very process (no
// child to forward signals to: SIGTERM and SIGINT reach the server's own handlers). Builds first
// only when src/ is newer than dist/.
import * as path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { ensureBuilt } from './ensure-built.mjs';

try {
  await ensureBuilt();
} catch (err) {
  process.stderr.write(`dockyard: ${err.message}\n`);
  process.exit(1);
}
const entry = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', 'dist', 'main.js');
process.argv = [process.argv[0], entry, 'serve', ...process.argv.slice(2)];
await import(pathToFileURL(entry).href);
