import { mkdir, rm, writeFile } from 'node:fs/promises';
import * as path from 'node:path';

/**
 * A reason the registry cannot start that the operator must fix (a port in use, a directory it
 * cannot write, an outbox it cannot reach, a certificate that does not load). The CLI prints the
 * message as one line and exits non-zero; it is never a stack trace.
 */
export class StartupError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'StartupError';
  }
}

/** System errors that say what is wrong with the machine, not with the code, and how we name them. */
const SYSTEM_ERRORS: Record<string, string> = {
  EADDRINUSE: 'address already in use',
  EADDRNOTAVAIL: 'address not available on this host',
  EACCES: 'permission denied',
  EPERM: 'operation not permitted',
  ENOENT: 'no such file or directory',
  ENOTDIR: 'not a directory',
  EROFS: 'read-only file system',
  ENOSPC: 'no space left on device',
  EEXIST: 'already exists',
};

/** The code of a Node system error (`EADDRINUSE`), when it is one we know how to name. */
export function systemErrorCode(err: unknown): string | undefined {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' && code in SYSTEM_ERRORS ? code : undefined;
}

/** One line (no stack, no newlines) for a start-up failure of any kind. */
export function describeStartupFailure(err: unknown): string {
  if (!(err instanceof Error)) return String(err).replace(/\s*\n\s*/g, ' ');
  const code = systemErrorCode(err);
  const message = code && !err.message.includes(code) ? `${err.message} (${code}: ${SYSTEM_ERRORS[code]})` : err.message;
  return (message || err.name).replace(/\s*\n\s*/g, ' ');
}

/**
 * Creates `dir` if needed and writes, syncs and removes a small file in it, so that a directory the
 * registry cannot write stops the start here rather than failing the first push with a 500.
 */
export async function probeWritable(dir: string, what: string): Promise<void> {
  const probe = path.join(dir, `.dockyard-write-probe-${process.pid}`);
  try {
    await mkdir(dir, { recursive: true });
    await writeFile(probe, 'probe\n', { flush: true });
  } catch (err) {
    const code = systemErrorCode(err);
    // mkdir says EEXIST, and open ENOTDIR, when a file stands where a directory should be.
    const why = code === 'EEXIST' || code === 'ENOTDIR' ? 'a file is in the way (not a directory)' : code ? SYSTEM_ERRORS[code] : (err as Error).message;
    throw new StartupError(`${what} ${path.resolve(dir)} cannot be written: ${why}${code ? ` (${code})` : ''}`, { cause: err });
  } finally {
    await rm(probe, { force: true }).catch(() => undefined);
  }
}
