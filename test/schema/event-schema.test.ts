import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { describe, it } from 'node:test';
import { envelopeJsonSchema } from '../../src/notify/event.ts';
import { useTestRegistry } from '../helpers/registry.ts';

describe('the event JSON Schema', () => {
  const h = useTestRegistry();

  it('is committed exactly as generated from the zod model (run `npm run schema` after a change)', async () => {
    const committed = JSON.parse(await readFile(new URL('../../schema/events.schema.json', import.meta.url), 'utf8'));
    assert.deepEqual(committed, envelopeJsonSchema());
  });

  it('is served at a stable URL', async () => {
    const res = await fetch(`${h.registry.url}/notifications/schema/events.json`);
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type') ?? '', /^application\/schema\+json/);
    const served = await res.json();
    assert.deepEqual(served, envelopeJsonSchema());
    const props = (served as { properties: { events: { items: { required: string[] } } } }).properties.events.items;
    assert.deepEqual([...props.required].sort(), ['action', 'actor', 'id', 'request', 'source', 'target', 'timestamp']);
  });
});
