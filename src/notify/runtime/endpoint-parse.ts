import type { EndpointOptions } from '../options.ts';

/** One problem with a definition, as zod reports it (`path` dotted). */
export interface DefinitionIssue {
  path: string;
  message: string;
}

/**
 * Turns an endpoint definition (config.yml's `notifications.endpoints[]` keys, as JSON) into
 * EndpointOptions: the config's own schema, handed in from src/config so notify reads no config.
 */
export type EndpointParse = (
  definition: unknown,
) => { ok: true; options: EndpointOptions; disabled: boolean } | { ok: false; issues: DefinitionIssue[] };
