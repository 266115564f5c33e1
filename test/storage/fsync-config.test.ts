import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseConfig } from '../../src/config/load.ts';

describe('storage.filesystem.fsync', () => {
  it('is on by default', () => {
    assert.equal(parseConfig({}).config.storage.filesystem.fsync, true);
  });

  it('is turned off from the file or the environment, as Go reads a bool', () => {
    assert.equal(parseConfig({ storage: { filesystem: { fsync: false } } }).config.storage.filesystem.fsync, false);
    const { config, warnings } = parseConfig({}, { REGISTRY_STORAGE_FILESYSTEM_FSYNC: 'false' });
    assert.equal(config.storage.filesystem.fsync, false);
    assert.deepEqual(warnings, []);
  });

  it('refuses a value that is not a bool', () => {
    assert.throws(() => parseConfig({ storage: { filesystem: { fsync: 'sometimes' } } }), /fsync/);
  });
});
