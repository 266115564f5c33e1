/**
 * The two registries from the same config shape: filesystem storage under the server's own
 * empty directory, log level error, access log off, no notifications.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import * as path from 'node:path';
import { freePort, waitReady, type ServerProcess } from '../lib/processes.ts';
import { registryConfigYaml, spawnDistribution, spawnDockyard } from '../lib/registries.ts';
import { DOCKYARD_ENTRY, READY_TIMEOUT_MS, type ServerKind } from './settings.ts';

export interface Started extends ServerProcess {
  /** `127.0.0.1:<port>`, as skopeo names the registry. */
  hostPort: string;
  base: string;
}

export async function startRegistry(kind: ServerKind, dir: string): Promise<Started> {
  const storage = path.join(dir, 'storage');
  await mkdir(storage, { recursive: true });
  const hostPort = `127.0.0.1:${await freePort()}`;
  const configPath = path.join(dir, 'config.yml');
  await writeFile(configPath, registryConfigYaml({ addr: hostPort, storage, disableAccessLog: true }));
  const server = kind === 'dockyard' ? spawnDockyard(kind, [DOCKYARD_ENTRY, 'serve', configPath]) : spawnDistribution(kind, configPath, dir);
  const base = `http://${hostPort}`;
  try {
    await waitReady(server, kind, READY_TIMEOUT_MS, async () => {
      const res = await fetch(`${base}/v2/`, { signal: AbortSignal.timeout(2000) });
      await res.arrayBuffer();
      return res.status === 200;
    });
  } catch (err) {
    server.child.kill('SIGKILL');
    throw err;
  }
  return { ...server, hostPort, base };
}
