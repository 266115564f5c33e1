import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { describe, it } from 'node:test';
import { DISTRIBUTION_KEYS_REFUSED, DISTRIBUTION_TUNING_KEYS_NOT_IMPLEMENTED, IMPLEMENTED_KEYS } from '../../src/config/known-keys.ts';
import { DESCRIPTIONS, configKeys, goDuration, renderConfigReference } from '../../scripts/generate-config-reference.ts';

const committed = () => readFile(new URL('../../docs/configuration.md', import.meta.url), 'utf8');

describe('the configuration reference (docs/configuration.md)', () => {
  it('is committed exactly as generated from the zod schema (run `npm run docs:config` after a change)', async () => {
    assert.equal(await committed(), renderConfigReference());
  });

  it('lists every implemented key and every Distribution key that is not', async () => {
    const page = await committed();
    const listed = new Set(configKeys().map((k) => k.key));
    for (const key of IMPLEMENTED_KEYS) {
      assert.ok(listed.has(key), `${key} is in known-keys' IMPLEMENTED_KEYS but not in the schema's keys`);
      assert.ok(page.includes(`| \`${key}\` |`), `${key} has no row`);
    }
    for (const key of DISTRIBUTION_KEYS_REFUSED) assert.ok(page.includes(`| \`${key}\` | not implemented: refused |`), key);
    for (const key of DISTRIBUTION_TUNING_KEYS_NOT_IMPLEMENTED) assert.ok(page.includes(`| \`${key}\` | not implemented: ignored |`), key);
  });

  it('names in docs/production.md only keys the schema or known-keys has', async () => {
    const guide = await readFile(new URL('../../docs/production.md', import.meta.url), 'utf8');
    const known = [...configKeys().map((k) => k.key), ...DISTRIBUTION_KEYS_REFUSED, ...DISTRIBUTION_TUNING_KEYS_NOT_IMPLEMENTED];
    const sections = new Set(known.map((k) => k.split('.')[0]));
    const named = [...guide.matchAll(/`([a-z][a-z0-9]*(?:\.[a-z0-9[\]]+)+)(?::[^`]*)?`/g)].map((m) => m[1]!);
    const keys = named.filter((k) => sections.has(k.split('.')[0]!));
    assert.ok(keys.length > 30, `only ${keys.length} keys found in the guide`);
    assert.deepEqual(keys.filter((k) => !known.includes(k)), []);
  });

  it('describes no key the schema does not have', () => {
    const listed = new Set(configKeys().map((k) => k.key));
    assert.deepEqual(Object.keys(DESCRIPTIONS).filter((key) => !listed.has(key)), []);
  });

  it('gives defaults in the form a file is written in', () => {
    const byKey = new Map(configKeys().map((k) => [k.key, k]));
    assert.equal(byKey.get('http.draintimeout')?.default, '`10s`');
    assert.equal(byKey.get('storage.maintenance.uploadpurging.age')?.default, '`168h`');
    assert.equal(byKey.get('storage.filesystem.fsync')?.default, '`true`');
    assert.equal(byKey.get('storage.s3.bucket')?.default, 'required');
    assert.equal(byKey.get('storage.gc.enabled')?.distribution, 'Dockyard only');
    assert.equal(byKey.get('http.addr')?.distribution, 'same key');
    assert.deepEqual([0, 50, 1000, 90_000, 30 * 24 * 3_600_000].map(goDuration), ['0', '50ms', '1s', '90s', '720h']);
  });
});
