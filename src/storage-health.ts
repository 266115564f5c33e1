import type { Logger } from 'pino';
import type { StorageDriver } from './storage/driver.ts';

/** How long one storage probe may take before it counts as a failure. */
export const PROBE_DEADLINE_MS = 2_000;
/** The small file a probe rewrites at the top of a filesystem root (outside Distribution's tree). */
export const PROBE_PATH = '.dockyard-health';

/** Distribution's `health.storagedriver`. */
export interface StorageCheckConfig {
  enabled: boolean;
  interval: number;
  threshold: number;
}

/** What /readyz asks about the storage: why it cannot be used now, or null. */
export interface StorageHealth {
  problem(): Promise<string | null>;
  close(): void;
}

/**
 * Readiness of the storage. Without `health.storagedriver`, each /readyz probes the storage
 * itself (within 2 s). With it, as Distribution: disabled means no storage check; enabled, a
 * background probe every `interval`, and the storage is reported failing once `threshold`
 * probes in a row have failed (one success clears it), so /readyz answers from memory.
 */
export function storageHealth(driver: StorageDriver, readOnly: boolean, config: StorageCheckConfig | undefined, logger: Logger): StorageHealth {
  const probe = () => probeStorage(driver, readOnly);
  if (!config) return { problem: probe, close: () => undefined };
  if (!config.enabled) return { problem: async () => null, close: () => undefined };

  let failures = 0;
  let problem: string | null = null;
  let timer: NodeJS.Timeout | undefined;
  let closed = false;
  const run = async () => {
    const result = await probe();
    if (closed) return;
    if (result === null) {
      if (problem !== null) logger.info({ failures }, 'storage health check passes again');
      failures = 0;
      problem = null;
    } else {
      failures++;
      if (failures >= config.threshold) {
        if (problem === null) logger.error({ failures, error: result }, 'storage health check failing');
        problem = `${result} (${failures} failed check${failures > 1 ? 's' : ''} in a row)`;
      }
    }
    timer = setTimeout(() => void run(), config.interval).unref();
  };
  void run();
  return {
    problem: async () => problem,
    close() {
      closed = true;
      clearTimeout(timer);
    },
  };
}

/**
 * One probe that reads or writes no blob: a driver with its own check uses it (S3: HeadBucket);
 * a filesystem root must take a write (temp file, fsync, rename) unless the registry is
 * read-only, where reading the root is enough. Null when it passed within PROBE_DEADLINE_MS.
 */
export async function probeStorage(driver: StorageDriver, readOnly: boolean): Promise<string | null> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${PROBE_DEADLINE_MS} ms`)), PROBE_DEADLINE_MS);
  });
  const attempt = driver.check
    ? driver.check()
    : readOnly
      ? driver.stat('').then(() => undefined)
      : driver.putContent(PROBE_PATH, `${new Date().toISOString()}\n`);
  try {
    await Promise.race([attempt, late]);
    return null;
  } catch (err) {
    return err instanceof Error ? `${err.name}: ${err.message}` : String(err);
  } finally {
    clearTimeout(timer);
    attempt.catch(() => undefined); // a late failure after the deadline is not unhandled
  }
}
