/**
 * Facts about the request that caused an operation, captured once by the API layer and carried
 * to whoever needs them (the notifications listener, logs). Knows nothing of HTTP frameworks.
 */
export interface RequestContext {
  id: string;
  /** Remote address as `ip:port`; the client's IP alone when a trusted proxy named it (X-Forwarded-For). */
  addr: string;
  /** The client's IP (after trusted proxies), for rate limits and the loopback rule. */
  clientIp: string;
  /** The Host the client addressed. */
  host: string;
  method: string;
  useragent: string;
  /** Authenticated subject, when there is one. */
  actor?: string;
  /** Absolute base URL (`http://host:port`) used to build resource URLs. */
  baseUrl: string;
  /**
   * Settles once the response is over: true when its body was sent whole, false when the
   * client went away first. Pulls are reported upon conclusion, from this.
   */
  concluded: Promise<boolean>;
}
