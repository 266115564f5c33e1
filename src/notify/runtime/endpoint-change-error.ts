/**
 * Why a runtime endpoint could not be created, changed or removed; the codes are the operator
 * API's (src/api/admin-error.ts maps them to statuses), so the API only translates.
 */
export type EndpointChangeCode =
  | 'INVALID_ENDPOINT'
  | 'ENDPOINT_UNKNOWN'
  | 'ENDPOINT_EXISTS'
  | 'ENDPOINT_READ_ONLY'
  | 'ENDPOINT_NOT_DRAINED'
  | 'TARGET_FORBIDDEN'
  | 'UNAVAILABLE';

export class EndpointChangeError extends Error {
  constructor(
    readonly code: EndpointChangeCode,
    message: string,
    readonly detail?: unknown,
  ) {
    super(message);
    this.name = 'EndpointChangeError';
  }
}

export function readOnly(name: string): EndpointChangeError {
  return new EndpointChangeError(
    'ENDPOINT_READ_ONLY',
    `endpoint "${name}" comes from the configuration: edit notifications.endpoints in the config file and restart the registry to change or remove it`,
    { endpoint: name, source: 'config' },
  );
}

export function unknown(name: string): EndpointChangeError {
  return new EndpointChangeError('ENDPOINT_UNKNOWN', `no notification endpoint named "${name.slice(0, 100)}"`, { endpoint: name.slice(0, 100) });
}
