import type { Registry as MetricsRegistry } from 'prom-client';
import type { RepoName } from '../oci/names.ts';
import type { Repository } from '../storage/repository.ts';
import type { EndpointParse } from './runtime/endpoint-parse.ts';
import { DEFAULT_SUPERVISION, type SupervisorOptions } from './threads/supervisor.ts';

/** Deadlines of everything that crosses a thread (internal; tests may shorten them). */
export interface NotificationTimings {
  /** A group commit of the outbox writer; past it the writer is taken as stuck and restarted. */
  commitMs: number;
  /** An answer from the delivery thread (a ping gets its endpoint's timeout on top). */
  callMs: number;
  /** The readiness probe of the outbox. */
  healthMs: number;
  /** The whole shutdown: past it the threads are terminated wherever they are. */
  closeMs: number;
  supervision: SupervisorOptions;
}

export const DEFAULT_TIMINGS: NotificationTimings = {
  commitMs: 10_000,
  callMs: 10_000,
  healthMs: 2_000,
  closeMs: 10_000,
  supervision: DEFAULT_SUPERVISION,
};

/** What the registry around it lends the notifier (what it is told to do comes as NotifyOptions). */
export interface NotifierDeps {
  sourceAddr: () => string;
  metrics: MetricsRegistry;
  /** The store as it is (without notifications): start-up reconciles interrupted changes with it. */
  repositories: (name: RepoName) => Repository;
  timings?: Partial<NotificationTimings>;
  /** The config's endpoint schema (src/config), for runtime endpoints; without it none are loaded. */
  parseEndpoint?: EndpointParse;
}
