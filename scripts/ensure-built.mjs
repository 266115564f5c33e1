#!/usr/bin/env node
// Compiles src/ to dist/ (tsc -p tsconfig.build.json) only when a source is newer than the last
// successful build, so that `npm start` on a built tree starts in well under 2 s. `--force` always
// builds (`npm run build`). Run by `npm ci` (prepare) and by scripts/start.mjs.
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
/** Written after a build that succeeded; its mtime is the build's. */
const STAMP = path.join(ROOT, 'dist', '.build-stamp');
const INPUTS = ['tsconfig.json', 'tsconfig.build.json', 'package.json'];

/** The newest mtime (ms) of the files under `dir` (0 for none). */
function newestUnder(dir) {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true, recursive: true })) {
    if (!entry.isFile()) continue;
    newest = Math.max(newest, statSync(path.join(entry.parentPath ?? entry.path, entry.name)).mtimeMs);
  }
  return newest;
}

/** Why a build is needed, or null when dist/ is up to date. */
export function staleReason(root = ROOT) {
  const stamp = path.join(root, 'dist', '.build-stamp');
  if (!existsSync(stamp)) return 'dist/ has not been built';
  const built = statSync(stamp).mtimeMs;
  if (newestUnder(path.join(root, 'src')) > built) return 'src/ changed since the last build';
  if (INPUTS.some((f) => existsSync(path.join(root, f)) && statSync(path.join(root, f)).mtimeMs > built)) return 'the build configuration changed';
  return null;
}

/** Builds when needed (or when `force`); throws if the build fails. Resolves with whether it built. */
export async function ensureBuilt({ force = false, quiet = false } = {}) {
  if (!existsSync(path.join(ROOT, 'src'))) return false; // an install without sources (a Docker layer of dependencies)
  const reason = force ? 'asked to' : staleReason();
  if (reason === null) return false;
  let tsc;
  try {
    tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
  } catch {
    // A production install (no dev dependencies) runs the dist/ it was given.
    if (existsSync(path.join(ROOT, 'dist', 'main.js')) && !force) return false;
    throw new Error('cannot build: TypeScript is not installed (npm ci installs it)');
  }
  if (!quiet) process.stderr.write(`dockyard: building dist/ (${reason})\n`);
  const child = spawn(process.execPath, [tsc, '-p', path.join(ROOT, 'tsconfig.build.json')], { cwd: ROOT, stdio: 'inherit' });
  // A stop during the build stops the build too (no tsc left running on its own), then this process.
  let stoppedBy = null;
  const stop = (signal) => {
    stoppedBy = signal;
    child.kill(signal);
  };
  process.on('SIGTERM', stop).on('SIGINT', stop);
  const [code, signal] = await once(child, 'exit');
  process.off('SIGTERM', stop).off('SIGINT', stop);
  if (stoppedBy) process.exit(1);
  if (code !== 0) throw new Error(`the build failed (tsc exited ${code ?? signal})`);
  writeFileSync(STAMP, `${new Date().toISOString()}\n`);
  return true;
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  try {
    await ensureBuilt({ force: process.argv.includes('--force') });
  } catch (err) {
    process.stderr.write(`dockyard: ${err.message}\n`);
    process.exit(1);
  }
}
