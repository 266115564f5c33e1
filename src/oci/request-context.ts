/**
 * Facts about the request that caused an operation, captured once by the API layer and carried
 * to whoever needs them (the notifications listener, logs). Knows nothing of HTTP frameworks.
 */
export interface RequestContext {
  id: string;
  /** Remote address as `ip:port`. */
  addr: string;
  /** The Host the client addressed. */
  host: string;
  method: string;
  useragent: string;
  /** Authenticated subject, when there is one. */
  actor?: string;
  /** Absolute base URL (`http://host:port`) used to build resource URLs. */
  baseUrl: string;
}
