import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import type { RequestContext } from '../../oci/request-context.ts';

/** Who inside the registry makes a change no client asked for. */
export type InternalActor = 'gc';

/** The context of a change the registry makes on its own: its events carry `actor.internal`, no `actor.name`. */
export interface InternalRequestContext extends RequestContext {
  readonly internal: InternalActor;
}

export function isInternal(ctx: RequestContext): ctx is InternalRequestContext {
  return typeof (ctx as Partial<InternalRequestContext>).internal === 'string';
}

/**
 * A request context for `actor` (one per run: its id ties the run's events together). There is no
 * client, so the request record names this host and the actor; nothing is ever pulled through
 * it, so `concluded` is settled from the start.
 */
export function internalContext(actor: InternalActor, baseUrl = ''): InternalRequestContext {
  return {
    id: randomUUID(),
    addr: '',
    clientIp: '',
    host: hostname(),
    method: 'DELETE',
    useragent: `dockyard-${actor}`,
    baseUrl,
    concluded: Promise.resolve(true),
    internal: actor,
  };
}
