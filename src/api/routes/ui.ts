import { fileURLToPath } from 'node:url';
import express, { type ErrorRequestHandler, type Request, type RequestHandler, type Response, type Router } from 'express';
import type { NotificationAdmin } from '../../notify/admin.ts';
import { EventTail } from '../../notify/testbed/event-tail.ts';
import type { Inboxes } from '../../notify/testbed/inbox.ts';
import { AdminError, asAdminError } from '../admin-error.ts';

/** The page's files: plain HTML, CSS and JavaScript, no build step (`ui/` at the package root). */
const ASSETS = fileURLToPath(new URL('../../../ui/', import.meta.url));
/** How often a live view looks for new events, and says it is still there (proxies drop idle streams). */
const LOOK_MS = 500;
const HEARTBEAT_MS = 15_000;
/** Live views open at once; each costs a look at the outbox every LOOK_MS. */
const MAX_STREAMS = 16;
/** A delivery to an inbox is a notification envelope: small, but batches add up. */
const INBOX_BODY_LIMIT = '4mb';

export interface UiDeps {
  admin: NotificationAdmin;
  adminOnly: RequestHandler;
  inboxes: Inboxes;
}

/**
 * The webhook test bed at /ui/: the page, its live stream of events (Server-Sent Events), and the
 * built-in inboxes. Everything behind `adminOnly` but the inbox's receiving end, which the
 * registry's own delivery thread calls without credentials, as any consumer is called.
 */
export function registerUiRoutes(router: Router, deps: UiDeps): void {
  const { admin, adminOnly, inboxes } = deps;
  let streams = 0;

  // Routers here are not strict: "/ui" matches "/ui/" too, so look at what the client asked for.
  router.get('/ui', (req, res, next) => (req.originalUrl.split('?')[0] === '/ui' ? res.redirect(301, '/ui/') : next()));

  // The receiving end of inbox endpoints: what arrives is kept as it came, bytes and headers.
  router.post('/ui/inbox/:name', express.raw({ type: () => true, limit: INBOX_BODY_LIMIT }), (req, res) => {
    const name = String(req.params.name);
    const secrets = admin.endpointSecrets(name);
    if (secrets === null) throw new AdminError('ENDPOINT_UNKNOWN', `no inbox endpoint named "${name.slice(0, 100)}"`, { endpoint: name.slice(0, 100) });
    const body = Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0);
    const received = inboxes.receive(name, secrets, { method: req.method, headers: req.headers, body });
    res.status(200).json({ received: received.seq });
  });

  router.use('/ui', adminOnly);

  router.get('/ui/inbox/:name/requests', (req, res) => {
    const name = String(req.params.name);
    if (admin.endpointSecrets(name) === null) throw new AdminError('ENDPOINT_UNKNOWN', `no inbox endpoint named "${name.slice(0, 100)}"`, { endpoint: name.slice(0, 100) });
    const after = afterParam(req);
    res.json({ endpoint: name, requests: inboxes.list(name, after) });
  });

  router.get('/ui/events/stream', (req, res) => {
    if (streams >= MAX_STREAMS) throw new AdminError('UNAVAILABLE', `at most ${MAX_STREAMS} live views at once`, { streams });
    streams++;
    openStream(req, res, new EventTail((range, limit) => admin.events(range, limit)), () => streams--);
  });

  router.use('/ui', express.static(ASSETS, { index: 'index.html', fallthrough: true, maxAge: 0 }));
  router.use('/ui', ((err, _req, _res, next) => next(asAdminError(err))) as ErrorRequestHandler);
}

/** Streams the tail's events as `registry-event` messages, each with its id, until the client goes. */
function openStream(req: Request, res: Response, tail: EventTail, closed: () => void): void {
  res.status(200);
  res.setHeader('Content-Type', 'text/event-stream; charset=utf-8');
  res.setHeader('Cache-Control', 'no-cache, no-transform');
  res.setHeader('X-Accel-Buffering', 'no'); // nginx: pass each message on at once
  res.flushHeaders();
  res.write('retry: 2000\n: connected\n\n');
  let looking = false;
  let lastWrite = Date.now();
  const look = async (): Promise<void> => {
    if (looking) return;
    looking = true;
    try {
      for (const event of await tail.next()) {
        res.write(`id: ${event.id}\nevent: registry-event\ndata: ${JSON.stringify(event)}\n\n`);
        lastWrite = Date.now();
      }
      if (Date.now() - lastWrite >= HEARTBEAT_MS) {
        res.write(': still here\n\n');
        lastWrite = Date.now();
      }
    } catch (err) {
      // A thread restarting: say so once, keep the stream, look again next time.
      res.write(`event: stream-error\ndata: ${JSON.stringify({ message: (err as Error).message })}\n\n`);
    } finally {
      looking = false;
    }
  };
  const timer = setInterval(() => void look(), LOOK_MS);
  void look();
  req.on('close', () => {
    clearInterval(timer);
    closed();
  });
}

function afterParam(req: Request): number {
  const raw = req.query.after;
  if (raw === undefined) return 0;
  const n = Number(raw);
  if (typeof raw !== 'string' || !Number.isInteger(n) || n < 0) {
    throw new AdminError('INVALID_PARAMETER', 'query parameter "after" must be a non-negative integer', { parameter: 'after' });
  }
  return n;
}
