/**
 * Writes the notification JSON Schemas, generated from the zod definitions: the envelope
 * (src/notify/event.ts) to schema/events.schema.json, and one event as a structured CloudEvent
 * (src/notify/delivery/envelope-encoding.ts) to schema/cloudevent.schema.json. Run after changing
 * the event model:
 *   npm run schema
 * A test fails when a committed file and its generated schema differ.
 */
import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { cloudEventJsonSchema } from '../src/notify/delivery/envelope-encoding.ts';
import { envelopeJsonSchema } from '../src/notify/event.ts';

for (const [file, schema] of [
  ['events.schema.json', envelopeJsonSchema()],
  ['cloudevent.schema.json', cloudEventJsonSchema()],
] as const) {
  const target = fileURLToPath(new URL(`../schema/${file}`, import.meta.url));
  writeFileSync(target, `${JSON.stringify(schema, null, 2)}\n`);
  process.stdout.write(`wrote ${target}\n`);
}
