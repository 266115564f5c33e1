import type { Logger } from 'pino';
import type { Repository } from '../repository.ts';
import type { StorageRegistry } from '../storage-registry.ts';
import { collectGarbage, type GcOptions, type GcReport } from './garbage-collector.ts';

export interface GcSchedule {
  /** One collection now (waits for a scheduled one in progress first: never two at once). */
  run(options: GcOptions): Promise<GcReport>;
  stop(): Promise<void>;
}

/**
 * The online collection, as the upload purger is scheduled: every `intervalMs` while `enabled`.
 * `listener` is asked once per run for the decorator of the repositories it deletes through (the
 * notifier's, with that run's internal request context), so every run's events share one request id.
 */
export function scheduleGarbageCollection(
  registry: StorageRegistry,
  settings: { enabled: boolean; intervalMs: number; delayMs: number; deleteUntagged: boolean },
  listener: () => (repo: Repository) => Repository,
  logger: Logger,
): GcSchedule {
  let running: Promise<unknown> = Promise.resolve();
  const run = (options: GcOptions): Promise<GcReport> => {
    const next = running.then(() => collectGarbage(registry, options, logger, { listen: listener() }));
    running = next.catch(() => undefined);
    return next;
  };
  const timer = settings.enabled
    ? setInterval(() => {
        run({ dryRun: false, deleteUntagged: settings.deleteUntagged, delayMs: settings.delayMs }).catch((err: unknown) =>
          logger.error({ err }, 'gc failed'),
        );
      }, settings.intervalMs).unref()
    : undefined;
  return {
    run,
    async stop() {
      clearInterval(timer);
      await running;
    },
  };
}
