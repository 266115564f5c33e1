import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { describe, it } from 'node:test';
import { parse } from 'yaml';
import { loadConfig } from '../../src/config/load.ts';

// No Docker engine runs here: the files users run are checked by parsing them.
const root = new URL('../../', import.meta.url);

describe('deployment files', () => {
  it('docker-compose.yml defines a registry service that builds this repo, publishes 5000 and keeps data in a volume', async () => {
    const compose = parse(await readFile(new URL('docker-compose.yml', root), 'utf8')) as {
      services: Record<string, { build?: string; ports?: string[]; volumes?: string[]; environment?: Record<string, string> }>;
      volumes: Record<string, unknown>;
    };
    const registry = compose.services.registry;
    assert.ok(registry, 'a "registry" service');
    assert.equal(registry.build, '.');
    assert.deepEqual(registry.ports, ['5000:5000']);
    assert.ok(registry.volumes?.some((v) => v.startsWith('registry-data:/var/lib/registry')));
    assert.ok('registry-data' in compose.volumes);
    assert.equal(registry.environment?.REGISTRY_STORAGE_FILESYSTEM_ROOTDIRECTORY, '/var/lib/registry');
  });

  it('the example config mounted by compose is a valid configuration', () => {
    const { config, warnings } = loadConfig(new URL('config.example.yml', root).pathname, {});
    assert.deepEqual(warnings, []);
    assert.equal(config.http.addr, '0.0.0.0:5000');
    assert.equal(config.storage.filesystem.rootdirectory, '/var/lib/registry');
  });

  it('the Dockerfile builds with the lock file and starts the compiled dist/main.js as a non-root user', async () => {
    const text = await readFile(new URL('Dockerfile', root), 'utf8');
    assert.match(text, /^FROM node:20/m);
    assert.match(text, /npm run build && npm prune --omit=dev/);
    assert.match(text, /^USER node$/m);
    assert.match(text, /^CMD \["node", "dist\/main\.js"\]$/m);
    assert.match(text, /^EXPOSE 5000$/m);
  });
});
