// A tiny webhook receiver for the compose demo: prints one line per event,
// "<action> <repository>[:<tag>] <digest|->", and answers 200 (400 to a body that is not an envelope).
// Node's standard library only, so it runs on the official node image as is.
import { createServer } from 'node:http';

const PORT = Number(process.env.PORT ?? 8080);
const HOST = process.env.HOST ?? '0.0.0.0';
const PATH = '/events';
const MAX_BODY_BYTES = 4 * 1024 * 1024;

function line(event) {
  const target = event?.target ?? {};
  const name = target.tag ? `${target.repository}:${target.tag}` : String(target.repository ?? '');
  return `${event?.action} ${name} ${target.digest ?? '-'}`;
}

const server = createServer((req, res) => {
  if (req.method !== 'POST' || new URL(req.url ?? '/', 'http://receiver').pathname !== PATH) {
    res.writeHead(404).end();
    return;
  }
  const chunks = [];
  let size = 0;
  req.on('data', (chunk) => {
    size += chunk.length;
    if (size > MAX_BODY_BYTES) req.destroy();
    else chunks.push(chunk);
  });
  req.on('end', () => {
    let events;
    try {
      events = JSON.parse(Buffer.concat(chunks).toString('utf8')).events;
    } catch {
      events = undefined;
    }
    if (!Array.isArray(events)) {
      process.stderr.write(`receiver: refused a body that is not {"events":[...]} (webhook-id ${req.headers['webhook-id'] ?? '-'})\n`);
      res.writeHead(400).end();
      return;
    }
    for (const event of events) process.stdout.write(`${line(event)}\n`);
    res.writeHead(200).end();
  });
});

server.listen(PORT, HOST, () => {
  const { port } = server.address();
  process.stderr.write(`receiver: listening on http://${HOST}:${port}${PATH}\n`);
});

// As PID 1 in a container, node has no default signal handlers: exit on the ones compose sends.
for (const signal of ['SIGTERM', 'SIGINT']) process.on(signal, () => process.exit(0));
