/** What Distribution 2.x sends; the default. */
export const EVENTS_MEDIA_TYPE_V1 = 'application/vnd.docker.distribution.events.v1+json';
/** What Distribution 3 sends (same envelope, new name); chosen per endpoint with `envelope: v2`. */
export const EVENTS_MEDIA_TYPE_V2 = 'application/vnd.docker.distribution.events.v2+json';
/** One CloudEvent in structured content mode (`envelope: cloudevents`). */
export const CLOUDEVENTS_MEDIA_TYPE = 'application/cloudevents+json';
/** A JSON array of CloudEvents: structured mode with batching. */
export const CLOUDEVENTS_BATCH_MEDIA_TYPE = 'application/cloudevents-batch+json';
