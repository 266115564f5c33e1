import { CloudEvent, HTTP } from 'cloudevents';
import { z } from 'zod';
import {
  CLOUDEVENTS_BATCH_MEDIA_TYPE,
  CLOUDEVENTS_MEDIA_TYPE,
  EVENTS_MEDIA_TYPE_V1,
  EVENTS_MEDIA_TYPE_V2,
} from '../envelope-media-types.ts';
import { EVENT_ACTIONS, eventSchema, type Event } from '../event.ts';
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

/** A notification in structured CloudEvents mode, as the model says (its JSON Schema: schema/cloudevent.schema.json). */
export const cloudEventSchema = z
  .strictObject({
    specversion: z.enum(['1.0']).describe('CloudEvents 1.0.'),
    id: z.string().describe('The event id (the same as webhook-id, and on every retry).'),
    source: z.string().describe('The registry node that made the event: dockyard://<source.addr>.'),
    type: z.enum(EVENT_ACTIONS.map((a) => CLOUDEVENTS_TYPE_PREFIX + a)).describe('io.dockyard.registry.<action>.'),
    time: z.string().describe('The event timestamp, RFC 3339.'),
    subject: z.string().describe('The repository.'),
    datacontenttype: z.enum(['application/json']),
    data: eventSchema.describe('The Distribution event, as one item of events in schema/events.schema.json.'),
  })
  .describe(
    'One registry event as a CloudEvent in structured mode (application/cloudevents+json); a batch is a JSON array of ' +
      'these (application/cloudevents-batch+json). Binary mode sends the same attributes as ce-* headers and data as the body.',
  );

/** The JSON Schema of a structured CloudEvent, generated from the definitions above. */
export function cloudEventJsonSchema(): Record<string, unknown> {
  return { title: 'Dockyard notification as a CloudEvent', ...z.toJSONSchema(cloudEventSchema, { target: 'draft-2020-12' }) };
}
