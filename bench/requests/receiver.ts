/**
 * The webhook receiver both servers deliver to: a node:http server on loopback that answers 200
 * as soon as a POST's body has arrived, and counts POSTs and events (so a row can show the
 * webhook really fired). It runs in the bench process, which is idle while a load generator runs.
 */
import { once } from 'node:events';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';

export interface Receiver {
  url: string;
  posts: number;
  events: number;
  close: () => Promise<void>;
}

export async function startReceiver(): Promise<Receiver> {
  const counts = { posts: 0, events: 0 };
  const server = http.createServer({ keepAliveTimeout: 120_000 }, (req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      res.writeHead(200, { 'content-length': '0' });
      res.end();
      counts.posts++;
      try {
        const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as { events?: unknown[] };
        counts.events += Array.isArray(body.events) ? body.events.length : 0;
      } catch {
        // not an envelope: counted as a POST only
      }
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/events`,
    get posts() {
      return counts.posts;
    },
    get events() {
      return counts.events;
    },
    close: async () => {
      server.closeAllConnections();
      server.close();
      await once(server, 'close');
    },
  };
}
