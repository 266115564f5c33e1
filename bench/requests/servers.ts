/**
 * The servers under load: Dockyard (compiled dist/main.js) and Distribution 2.8.2 from the same
 * config file shape, and the ceiling, a bare node:http server answering a fixed 700-byte body.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import * as path from 'node:path';
import { freePort, spawnServer, waitReady, type ServerProcess } from '../lib/processes.ts';
import { registryConfigYaml, spawnDistribution, spawnDockyard, webhookEndpointLines } from '../lib/registries.ts';
import { LIMIT_BODY_BYTES, READY_TIMEOUT_MS, type ServerKind } from './settings.ts';

export interface Started extends ServerProcess {
  base: string;
}

async function ready(server: ServerProcess, label: string, base: string): Promise<void> {
  await waitReady(server, label, READY_TIMEOUT_MS, async () => {
    const res = await fetch(`${base}/v2/`, { signal: AbortSignal.timeout(2000) });
    await res.arrayBuffer();
    return res.status === 200;
  });
}

/** Starts `kind` in `dir` (its own empty storage root), with a webhook to `receiverUrl` if given. */
export async function startRegistry(kind: ServerKind, dir: string, receiverUrl: string | null): Promise<Started> {
  const storage = path.join(dir, 'storage');
  await mkdir(storage, { recursive: true });
  const addr = `127.0.0.1:${await freePort()}`;
  const configPath = path.join(dir, 'config.yml');
  const extra = receiverUrl ? webhookEndpointLines(receiverUrl) : [];
  await writeFile(configPath, registryConfigYaml({ addr, storage, disableAccessLog: true, extra }));
  const server = kind === 'dockyard' ? spawnDockyard(kind, ['dist/main.js', 'serve', configPath]) : spawnDistribution(kind, configPath, dir);
  const base = `http://${addr}`;
  const started = { ...server, base };
  try {
    await ready(server, kind, base);
  } catch (err) {
    server.child.kill('SIGKILL');
    throw err;
  }
  return started;
}

// The ceiling: no routing, no storage, a body built once. Run as its own process like the others.
const LIMIT_SERVER = `
const http = require('node:http');
const body = Buffer.alloc(${LIMIT_BODY_BYTES}, 0x61);
http.createServer({ keepAliveTimeout: 60000 }, (req, res) => {
  res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': body.length });
  res.end(req.method === 'HEAD' ? undefined : body);
}).listen(Number(process.argv[1]), '127.0.0.1');
`;

export async function startLimit(dir: string): Promise<Started> {
  const port = await freePort();
  const server = spawnServer('node:http', process.execPath, ['-e', LIMIT_SERVER, String(port)], { cwd: dir, env: { PATH: process.env.PATH ?? '' } });
  const base = `http://127.0.0.1:${port}`;
  await waitReady(server, 'node:http', READY_TIMEOUT_MS, async () => {
    const res = await fetch(`${base}/`, { signal: AbortSignal.timeout(2000) });
    await res.arrayBuffer();
    return res.status === 200;
  });
  return { ...server, base };
}
