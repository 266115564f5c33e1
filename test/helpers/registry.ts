import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { parseConfig } from '../../src/config/load.ts';
import { createLogger } from '../../src/logger.ts';
import { startRegistry, type RunningRegistry } from '../../src/server.ts';
import { Client } from './client.ts';
import { suiteFixture } from './suite-fixture.ts';

export interface TestRegistry extends RunningRegistry {
  /** The storage root directory (a fresh temp dir). */
  root: string;
  /** Stops the server and removes its storage. */
  stop(): Promise<void>;
}

/**
 * Starts a real registry on an ephemeral loopback port with storage in a fresh temp directory.
 * `config` is a Distribution-style config tree merged over the test defaults; a
 * `storage.filesystem` in it is used instead of the temp directory (to start again on the same
 * storage), while `root` and stop() still concern the temp directory.
 */
export async function startTestRegistry(config: Record<string, unknown> = {}): Promise<TestRegistry> {
  const root = await mkdtemp(path.join(tmpdir(), 'dockyard-test-'));
  const storage = (config.storage ?? {}) as Record<string, unknown>;
  const http = (config.http ?? {}) as Record<string, unknown>;
  const { config: parsed } = parseConfig({
    ...config,
    http: { addr: '127.0.0.1:0', ...http },
    storage: { filesystem: { rootdirectory: root }, ...storage },
  });
  const running = await startRegistry(parsed, createLogger(process.env.DOCKYARD_TEST_LOG ?? 'silent'));
  return {
    ...running,
    root,
    async stop() {
      await running.close();
      await rm(root, { recursive: true, force: true });
    },
  };
}

/** A running test registry and a client of it, as a describe block's tests see them. */
export interface RegistryHarness<C extends Client = Client> {
  readonly registry: TestRegistry;
  readonly client: C;
}

/**
 * A test registry for the describe block this is called in: started with `config` (as for
 * startTestRegistry) in a `before` hook, stopped in an `after` hook (see suiteFixture).
 *
 *     const h = useTestRegistry();
 *     before(() => h.client.pushImage('app', 'v1'));   // runs once the registry is up
 *     it('…', async () => { await h.client.fetch('/v2/'); });
 */
export function useTestRegistry(config: Record<string, unknown> = {}): RegistryHarness {
  const started = suiteFixture(
    'the test registry',
    async () => {
      const registry = await startTestRegistry(config);
      return { registry, client: new Client(registry.url) };
    },
    ({ registry }) => registry.stop(),
  );
  return {
    get registry() {
      return started().registry;
    },
    get client() {
      return started().client;
    },
  };
}
