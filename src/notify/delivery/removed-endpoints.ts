import type { Logger } from 'pino';
import type { EndpointStatus } from '../admin.ts';
import type { EndpointCounts, OutboxReads } from '../outbox/outbox-reads.ts';

/** Why a removed endpoint is listed as disabled. */
export const REMOVED_REASON = 'removed from the configuration';

/**
 * Endpoints that have rows in the outbox but are no longer configured, with their counts. Their
 * pending events will never be delivered unless the endpoint is configured again (under the same
 * name); upkeep prunes them after the dead-letter retention.
 */
export async function removedEndpoints(reader: OutboxReads, configured: ReadonlySet<string>): Promise<Map<string, EndpointCounts>> {
  const out = new Map<string, EndpointCounts>();
  for (const name of await reader.endpointsWithRows()) {
    if (configured.has(name)) continue;
    const counts = await reader.counts(name);
    if (counts.pending + counts.delivered + counts.dead > 0) out.set(name, counts);
  }
  return out;
}

/** Said once at start, one line per removed endpoint: how many of its events wait for nobody. */
export function logRemovedEndpoints(removed: Map<string, EndpointCounts>, retentionMs: number, logger: Logger): void {
  for (const [endpoint, counts] of removed) {
    logger.warn(
      { endpoint, pending: counts.pending, deadLetters: counts.dead, delivered: counts.delivered, prunedAfterDays: retentionMs / 86_400_000 },
      'endpoint is no longer configured but has events in the outbox: its pending events will not be delivered (configure it again to deliver them)',
    );
  }
}

/** A removed endpoint as `GET /notifications/endpoints` lists it. */
export function removedStatus(name: string, counts: EndpointCounts): EndpointStatus {
  return {
    name,
    url: null,
    removed: true,
    disabled: true,
    disabledReason: REMOVED_REASON,
    pending: counts.pending,
    delivered: counts.delivered,
    deadLetters: counts.dead,
    failingSince: null,
    lastStatus: null,
    delivering: false,
    source: 'config',
  };
}
