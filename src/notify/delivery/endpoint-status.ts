import type { EndpointStatus } from '../admin.ts';
import type { EndpointOptions } from '../options.ts';
import { publicKeyOf } from './signing.ts';

/** What the status of a configured (or runtime) endpoint is made of, gathered by the engine. */
export interface EndpointFacts {
  endpoint: EndpointOptions;
  counts: { pending: number; delivered: number; dead: number };
  /** From this process's attempts, or from the delivery log when another replica delivers it. */
  health: { failingSince: number | null; lastStatus: number | null };
  /** Why a 410 Gone (or the operator) disabled it; undefined while enabled. */
  disabledReason: string | null | undefined;
  /** This process holds the endpoint's lease (always, with the embedded outbox). */
  leased: boolean;
}

/** One endpoint as `GET /notifications/endpoints` lists it. */
export function endpointStatus(f: EndpointFacts): EndpointStatus {
  const disabled = f.disabledReason !== undefined;
  return {
    name: f.endpoint.name,
    url: f.endpoint.url,
    removed: false,
    disabled,
    disabledReason: f.disabledReason ?? null,
    pending: f.counts.pending,
    delivered: f.counts.delivered,
    deadLetters: f.counts.dead,
    failingSince: f.health.failingSince === null ? null : new Date(f.health.failingSince).toISOString(),
    lastStatus: f.health.lastStatus,
    delivering: f.leased && !disabled,
    ...publicKey(f.endpoint),
    source: 'config', // the main thread marks runtime ones (runtime/runtime-endpoints.ts)
  };
}

/** `publickey` of an endpoint that signs with Ed25519 (its key resolved at start). */
function publicKey(endpoint: EndpointOptions): Pick<EndpointStatus, 'publickey'> {
  return typeof endpoint.ed25519 === 'object' && endpoint.ed25519 ? { publickey: publicKeyOf(endpoint.ed25519.privateKey) } : {};
}
