import { z } from 'zod';

/**
 * The event model, defined once. Field names, meanings and order follow CNCF Distribution's
 * notifications.Event so a consumer written for Distribution reads ours unchanged. The JSON
 * Schema served at /notifications/schema/events.json is generated from these definitions.
 */

export { EVENTS_MEDIA_TYPE_V1, EVENTS_MEDIA_TYPE_V2 } from './envelope-media-types.ts';

/** The registry operations that emit events. */
export const ACTIONS = ['push', 'pull', 'delete', 'mount'] as const;
/** `ping` is not an operation: it is the test delivery an operator asks for (POST .../ping). */
export const EVENT_ACTIONS = [...ACTIONS, 'ping'] as const;
export type Action = (typeof EVENT_ACTIONS)[number];

export const descriptorSchema = z.object({
  mediaType: z.string().describe('The MIME type of the referenced content.'),
  size: z.number().int().nonnegative().describe('Size of the content in bytes.'),
  digest: z.string().describe('Digest of the content, algorithm:hex.'),
});

export const targetSchema = z.object({
  mediaType: z.string().optional().describe('Media type of the target: a manifest type, or application/octet-stream for blobs.'),
  size: z.number().int().nonnegative().optional().describe('Size of the target in bytes.'),
  digest: z.string().optional().describe('Digest of the target.'),
  length: z.number().int().nonnegative().optional().describe('Same as size; kept for compatibility with old consumers.'),
  repository: z.string().describe('Repository the operation acted on.'),
  fromRepository: z.string().optional().describe('For a mount: the repository the blob was mounted from.'),
  url: z.string().optional().describe('Direct link to the content.'),
  tag: z.string().optional().describe('The tag, when the request named one.'),
  range: z
    .string()
    .optional()
    .describe('For a blob pull of a Range: the part sent, as the Content-Range header gave it ("bytes 0-99/1000").'),
  references: z.array(descriptorSchema).optional().describe('Descriptors a manifest references (notifications.events.includereferences).'),
});

export const requestSchema = z.object({
  id: z.string().describe('Unique id of the request that caused the event.'),
  addr: z.string().describe('Client address, ip:port.'),
  host: z.string().describe('Host the client addressed.'),
  method: z.string().describe('HTTP method of the request.'),
  useragent: z.string().describe('User-Agent of the request.'),
});

export const actorSchema = z.object({
  name: z.string().optional().describe('Authenticated subject that caused the event.'),
  internal: z
    .enum(['gc'])
    .optional()
    .describe('Set when the registry itself made the change, no client: "gc" for its garbage collection (name is then absent).'),
});

export const sourceSchema = z.object({
  addr: z.string().describe('Registry node that generated the event, host:port.'),
  instanceID: z.string().describe('Id of the running registry process; changes at each start.'),
});

export const eventSchema = z.object({
  id: z.string().describe('Unique id of the event; unchanged on every delivery attempt (an idempotency key).'),
  timestamp: z.string().describe('When the operation completed, RFC 3339.'),
  action: z.enum(EVENT_ACTIONS).describe('What happened: push, pull, delete or mount; ping for a test delivery.'),
  target: targetSchema,
  request: requestSchema,
  actor: actorSchema,
  source: sourceSchema,
});

export const envelopeSchema = z
  .object({ events: z.array(eventSchema) })
  .describe('A notification: one or more registry events, oldest first.');

export type Event = z.infer<typeof eventSchema>;
export type EventTarget = z.infer<typeof targetSchema>;
export type Envelope = z.infer<typeof envelopeSchema>;

/** The JSON Schema of the envelope, generated from the definitions above. */
export function envelopeJsonSchema(): Record<string, unknown> {
  return {
    title: 'Dockyard notification envelope',
    ...z.toJSONSchema(envelopeSchema, { target: 'draft-2020-12' }),
  };
}
