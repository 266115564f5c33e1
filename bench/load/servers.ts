/**
 * Dockyard (compiled dist/main.js) or Distribution 2.8.2 from the same config shape, with `extra`
 * config lines (a webhook endpoint, token auth). Ready once `/v2/` answers 200, or 401 when the
 * config turns auth on. Shared by the load and the token-auth benches.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import * as path from 'node:path';
import { freePort, waitReady, type ServerProcess } from '../lib/processes.ts';
import { registryConfigYaml, spawnDistribution, spawnDockyard } from '../lib/registries.ts';
import type { ServerKind } from '../requests/settings.ts';
import { READY_TIMEOUT_MS } from './settings.ts';

export interface Started extends ServerProcess {
  base: string;
}

export async function startServer(kind: ServerKind, dir: string, extra: string[]): Promise<Started> {
  const storage = path.join(dir, 'storage');
  await mkdir(storage, { recursive: true });
  const addr = `127.0.0.1:${await freePort()}`;
  const configPath = path.join(dir, 'config.yml');
  await writeFile(configPath, registryConfigYaml({ addr, storage, disableAccessLog: true, extra }));
  const server = kind === 'dockyard' ? spawnDockyard(kind, ['dist/main.js', 'serve', configPath]) : spawnDistribution(kind, configPath, dir);
  const base = `http://${addr}`;
  try {
    await waitReady(server, kind, READY_TIMEOUT_MS, async () => {
      const res = await fetch(`${base}/v2/`, { signal: AbortSignal.timeout(2000) });
      await res.arrayBuffer();
      return res.status === 200 || res.status === 401;
    });
  } catch (err) {
    server.child.kill('SIGKILL');
    throw err;
  }
  return { ...server, base };
}
