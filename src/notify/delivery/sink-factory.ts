import type { EndpointOptions } from '../options.ts';
import { HttpSink, type AttemptObserver } from './http-sink.ts';
import { JetStreamSink } from './jetstream-sink.ts';
import type { Sink } from './sink.ts';

/**
 * The one place an endpoint's kind picks its sink: a `jetstream` block (a `nats://` or `tls://`
 * url, as the config insists) publishes to JetStream, anything else POSTs over HTTP. Either makes
 * exactly one attempt per write and tells `observe` of it; retries are RetryingSink's.
 */
export function createSink(endpoint: EndpointOptions, observe: AttemptObserver, shutdown: AbortSignal): Sink {
  return endpoint.jetstream
    ? new JetStreamSink(endpoint, endpoint.jetstream, observe, shutdown)
    : new HttpSink(endpoint, observe, shutdown);
}
