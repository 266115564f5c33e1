import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import type { Descriptor } from '../../oci/descriptor.ts';
import type { RequestContext } from '../../oci/request-context.ts';
import type { Action, Event, EventTarget } from '../event.ts';
import type { EventOrigin } from './change-intent.ts';
import { isInternal } from './internal-context.ts';

/**
 * Builds events: stamps each with a fresh id and the time, and the request, actor and source
 * records (Distribution's "bridge").
 */
export class EventFactory {
  readonly instanceID = randomUUID();

  /** `sourceAddr` is asked for each event: the port is known only once the server listens. */
  constructor(
    private readonly sourceAddr: () => string = () => `${hostname()}:0`,
    readonly includeReferences = false,
  ) {}

  create(action: Action, target: EventTarget, ctx: RequestContext): Event {
    return this.recreate(action, target, this.origin(ctx), Date.now());
  }

  /** The request, actor and source records of events caused by `ctx` (kept with an intent). */
  origin(ctx: RequestContext): EventOrigin {
    return {
      request: { id: ctx.id, addr: ctx.addr, host: ctx.host, method: ctx.method, useragent: ctx.useragent },
      actor: isInternal(ctx) ? { internal: ctx.internal } : ctx.actor ? { name: ctx.actor } : {},
      source: { addr: this.sourceAddr(), instanceID: this.instanceID },
    };
  }

  /** An event of a change made at `at` by `origin`: also one a restart reconciles (the source it had then). */
  recreate(action: Action, target: EventTarget, origin: EventOrigin, at: number): Event {
    return { id: randomUUID(), timestamp: new Date(at).toISOString(), action, target, ...origin };
  }

  /** `references` for a manifest event, when configured; descriptors trimmed to Distribution's three fields. */
  references(descriptors: Descriptor[]): Pick<EventTarget, 'references'> {
    if (!this.includeReferences || descriptors.length === 0) return {};
    return { references: descriptors.map((d) => ({ mediaType: d.mediaType, size: d.size, digest: d.digest })) };
  }
}
