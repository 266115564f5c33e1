/**
 * Writes the notification envelope's JSON Schema, generated from the zod definitions in
 * src/notify/event.ts, to schema/events.schema.json. Run after changing the event model:
 *   npm run schema
 * A test fails when the committed file and the generated schema differ.
 */
import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { envelopeJsonSchema } from '../src/notify/event.ts';

const target = fileURLToPath(new URL('../schema/events.schema.json', import.meta.url));
writeFileSync(target, `${JSON.stringify(envelopeJsonSchema(), null, 2)}\n`);
process.stdout.write(`wrote ${target}\n`);
