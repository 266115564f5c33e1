import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { parseConfig } from '../../src/config/load.ts';
import { createLogger } from '../../src/logger.ts';
import { startRegistry, type RunningRegistry } from '../../src/server.ts';

export interface TestRegistry extends RunningRegistry {
  /** The storage root directory (a fresh temp dir). */
  root: string;
  /** Stops the server and removes its storage. */
  stop(): Promise<void>;
}

/**
 * Starts a real registry on an ephemeral loopback port with storage in a fresh temp directory.
 * `config` is a Distribution-style config tree merged over the test defaults.
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
