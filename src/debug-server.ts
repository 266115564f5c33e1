import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Registry as MetricsRegistry } from 'prom-client';
import { parseListenAddress } from './config/listen-address.ts';

/**
 * Distribution's debug server (`http.debug.addr`): Prometheus metrics at
 * `http.debug.prometheus.path`, kept off the public listener.
 */
export async function startDebugServer(
  addr: string,
  metricsPath: string | null,
  metrics: MetricsRegistry,
): Promise<{ server: Server; port: number }> {
  const server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://debug');
    if (metricsPath !== null && req.method === 'GET' && url.pathname === metricsPath) {
      metrics.metrics().then(
        (text) => {
          res.writeHead(200, { 'content-type': metrics.contentType });
          res.end(text);
        },
        (err: unknown) => {
          res.writeHead(500, { 'content-type': 'text/plain' });
          res.end(String(err));
        },
      );
      return;
    }
    res.writeHead(404, { 'content-type': 'text/plain' }).end('not found\n');
  });
  const { host, port } = parseListenAddress(addr);
  server.listen(port, host ?? '::');
  await once(server, 'listening');
  return { server, port: (server.address() as AddressInfo).port };
}
