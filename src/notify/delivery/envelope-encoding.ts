import { CloudEvent, HTTP } from 'cloudevents';
import {
  CLOUDEVENTS_BATCH_MEDIA_TYPE,
  CLOUDEVENTS_MEDIA_TYPE,
  EVENTS_MEDIA_TYPE_V1,
  EVENTS_MEDIA_TYPE_V2,
} from '../envelope-media-types.ts';
import type { Event } from '../event.ts';
import type { EndpointOptions } from '../options.ts';

/** The prefix of a CloudEvent's `type`: `io.dockyard.registry.push`, `.pull`, `.delete`, `.mount` (and `.ping`). */
export const CLOUDEVENTS_TYPE_PREFIX = 'io.dockyard.registry.';

/** One request's body, exactly as sent (and signed), and the headers that describe it. */
export interface EncodedDelivery {
  body: string;
  /** Lower-case names: `content-type`, and in binary CloudEvents mode the `ce-*` attributes. */
  headers: Record<string, string>;
}

export type EnvelopeEncoder = (events: Event[]) => EncodedDelivery;

/**
 * How an endpoint's requests are written, chosen once when its sink is built:
 *   - `v1` / `v2`: Distribution's `{"events":[...]}` under its 2.x or 3 media type;
 *   - `cloudevents`, structured: one CloudEvent as the body, or for a batch a JSON array of them
 *     (`application/cloudevents-batch+json`);
 *   - `cloudevents`, binary: the Distribution event as the body, its attributes in `ce-*` headers;
 *     one event per request (the config refuses batching with it; so does this, loudly).
 */
export function envelopeEncoder(endpoint: Pick<EndpointOptions, 'name' | 'envelope' | 'cloudEventsMode' | 'batch'>): EnvelopeEncoder {
  if (endpoint.envelope !== 'cloudevents') {
    const contentType = endpoint.envelope === 'v2' ? EVENTS_MEDIA_TYPE_V2 : EVENTS_MEDIA_TYPE_V1;
    return (events) => ({ body: JSON.stringify({ events }), headers: { 'content-type': contentType } });
  }
  if (endpoint.cloudEventsMode === 'binary') {
    if (endpoint.batch.maxEvents > 1) throw new Error(`endpoint ${endpoint.name}: binary CloudEvents cannot be batched`);
    return (events) => {
      if (events.length !== 1) throw new Error(`binary CloudEvents carry one event, not ${events.length}`);
      const message = HTTP.binary(cloudEventOf(events[0]!));
      return { body: String(message.body), headers: lowerCased(message.headers) };
    };
  }
  return (events) => {
    if (events.length === 1) {
      const message = HTTP.structured(cloudEventOf(events[0]!));
      return { body: String(message.body), headers: { 'content-type': CLOUDEVENTS_MEDIA_TYPE } };
    }
    return { body: JSON.stringify(events.map(cloudEventOf)), headers: { 'content-type': CLOUDEVENTS_BATCH_MEDIA_TYPE } };
  };
}

/**
 * A registry event as a CloudEvent 1.0. `source` names the registry node that made the event,
 * `dockyard://<source.addr>` (host:port, stable across restarts; `source.instanceID` changes at
 * each start, so it stays in `data` only); `id` + `source` is unique because `id` is.
 */
export function cloudEventOf(event: Event): CloudEvent<Event> {
  return new CloudEvent<Event>({
    specversion: '1.0',
    id: event.id,
    source: `dockyard://${event.source.addr}`,
    type: CLOUDEVENTS_TYPE_PREFIX + event.action,
    time: event.timestamp,
    subject: event.target.repository,
    datacontenttype: 'application/json',
    data: event,
  });
}

function lowerCased(headers: Record<string, unknown>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers)) {
    if (value !== undefined) out[name.toLowerCase()] = String(value);
  }
  return out;
}
