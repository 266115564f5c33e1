import { readFileSync } from 'node:fs';

/** The committed JSON Schema of event envelopes, and a small validator for it. */

let schemaCache: JsonSchema | undefined;
/** schema/events.schema.json as committed (test/schema checks it is what the registry serves). */
export function committedSchema(): JsonSchema {
  schemaCache ??= JSON.parse(readFileSync(new URL('../../schema/events.schema.json', import.meta.url), 'utf8')) as JsonSchema;
  return schemaCache;
}

export interface JsonSchema {
  type?: string;
  properties?: Record<string, JsonSchema>;
  required?: string[];
  additionalProperties?: boolean | JsonSchema;
  items?: JsonSchema;
  enum?: unknown[];
  minimum?: number;
  maximum?: number;
  [keyword: string]: unknown;
}

const KNOWN_KEYWORDS = new Set(['$schema', 'title', 'description', 'type', 'properties', 'required', 'additionalProperties', 'items', 'enum', 'minimum', 'maximum']);

/**
 * A small JSON Schema validator for the keywords the committed schema uses; fails loudly on any
 * other keyword rather than ignoring it. Returns the violations, as `path: message`.
 */
export function jsonSchemaViolations(schema: JsonSchema, value: unknown, at = '$'): string[] {
  for (const k of Object.keys(schema)) if (!KNOWN_KEYWORDS.has(k)) throw new Error(`schema keyword "${k}" at ${at} is not supported by this validator`);
  const out: string[] = [];
  const isObject = typeof value === 'object' && value !== null && !Array.isArray(value);
  switch (schema.type) {
    case undefined: break;
    case 'object': if (!isObject) return [`${at}: not an object`]; break;
    case 'array': if (!Array.isArray(value)) return [`${at}: not an array`]; break;
    case 'integer': if (!Number.isInteger(value)) return [`${at}: not an integer`]; break;
    case 'number': if (typeof value !== 'number') return [`${at}: not a number`]; break;
    case 'string': if (typeof value !== 'string') return [`${at}: not a string`]; break;
    case 'boolean': if (typeof value !== 'boolean') return [`${at}: not a boolean`]; break;
    default: throw new Error(`schema type "${schema.type}" at ${at} is not supported by this validator`);
  }
  if (schema.enum && !schema.enum.includes(value)) out.push(`${at}: ${JSON.stringify(value)} is not one of ${JSON.stringify(schema.enum)}`);
  if (typeof value === 'number') {
    if (schema.minimum !== undefined && value < schema.minimum) out.push(`${at}: below ${schema.minimum}`);
    if (schema.maximum !== undefined && value > schema.maximum) out.push(`${at}: above ${schema.maximum}`);
  }
  if (isObject) {
    const obj = value as Record<string, unknown>;
    for (const k of schema.required ?? []) if (!(k in obj)) out.push(`${at}: missing "${k}"`);
    for (const [k, v] of Object.entries(obj)) {
      const sub = schema.properties?.[k];
      if (sub) out.push(...jsonSchemaViolations(sub, v, `${at}.${k}`));
      else if (schema.additionalProperties === false) out.push(`${at}: unexpected "${k}"`);
      else if (typeof schema.additionalProperties === 'object') out.push(...jsonSchemaViolations(schema.additionalProperties, v, `${at}.${k}`));
    }
  }
  if (Array.isArray(value) && schema.items) value.forEach((v, i) => out.push(...jsonSchemaViolations(schema.items!, v, `${at}[${i}]`)));
  return out;
}
