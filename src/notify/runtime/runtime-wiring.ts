import type { Logger } from 'pino';
import type { NotifyOptions, OutboxOptions } from '../options.ts';
import type { EndpointParse } from './endpoint-parse.ts';
import { SqliteEndpointStore, type RuntimeEndpointStore } from './endpoint-store.ts';
import { PgEndpointStore } from './pg-endpoint-store.ts';
import { RuntimeEndpoints, type RuntimeHooks } from './runtime-endpoints.ts';

/** How often replicas read the revision: another replica's change is picked up within about 1-2 s. */
const PG_POLL_MS = 1_000;
const DRAIN_LOOK_MS = 250;

/**
 * The runtime endpoints of a notifier (none without a parser: a process not handed the config's
 * schema, such as `dockyard gc`, neither loads nor routes them), on the store beside its outbox: the SQLite file (one
 * process, nothing to poll) or the shared PostgreSQL outbox (polled for other replicas' changes).
 */
export function runtimeEndpoints(options: NotifyOptions, parse: EndpointParse | undefined, hooks: RuntimeHooks, logger: Logger): RuntimeEndpoints {
  const pg = options.outbox.postgres;
  const store: RuntimeEndpointStore = pg ? new PgEndpointStore(pg) : new SqliteEndpointStore(options.outbox.file);
  const configured = new Set([...options.endpoints.map((e) => e.name), ...options.disabledEndpoints]);
  return new RuntimeEndpoints(store, configured, options.targets, parse ?? null, hooks, { pollMs: pg ? PG_POLL_MS : null, drainMs: DRAIN_LOOK_MS }, logger);
}

/** The names of the runtime endpoints stored in the outbox (read once, on a connection of its own). */
export async function storedEndpointNames(outbox: OutboxOptions): Promise<string[]> {
  const store: RuntimeEndpointStore = outbox.postgres ? new PgEndpointStore(outbox.postgres) : new SqliteEndpointStore(outbox.file);
  try {
    return (await store.list()).map((e) => e.name);
  } finally {
    await store.close();
  }
}
