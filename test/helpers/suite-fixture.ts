import { after, before } from 'node:test';

/**
 * Starts a value in a `before` hook of the describe block this is called in, and stops it in an
 * `after` hook. Returns a getter for it, usable in that block's tests and later hooks (not while the
 * block is being defined: the value does not exist yet). Hooks run in the order they are
 * registered, so `before` hooks registered after this call see the value started, and `after`
 * hooks registered before it run before the value is stopped.
 */
export function suiteFixture<T>(what: string, start: () => Promise<T>, stop: (value: T) => Promise<unknown> | unknown): () => T {
  let value: { started: T } | undefined;
  before(async () => {
    value = { started: await start() };
  });
  after(async () => {
    if (value) await stop(value.started);
  });
  return () => {
    if (!value) throw new Error(`${what} is started in a before hook: use it in tests and hooks, not while defining the describe block`);
    return value.started;
  };
}
