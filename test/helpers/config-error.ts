import assert from 'node:assert/strict';
import { ConfigError } from '../../src/config/load.ts';

/** Runs `fn` expecting a ConfigError; returns its message. */
export function configError(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof ConfigError, `expected a ConfigError, got ${String(err)}`);
    return err.message;
  }
  assert.fail('expected a ConfigError, but the configuration was accepted');
}
