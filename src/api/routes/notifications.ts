import { json, type ErrorRequestHandler, type RequestHandler, type Router } from 'express';
import { z } from 'zod';
import type { EventRange, NotificationAdmin } from '../../notify/admin.ts';
import { EVENT_ACTIONS, envelopeJsonSchema, type Action } from '../../notify/event.ts';
import { exampleEvent } from '../../notify/events/examples.ts';
import { AdminError, asAdminError } from '../admin-error.ts';
import { query } from '../params.ts';

const DEFAULT_LIMIT = 100;
const MAX_LIMIT = 1000;

/**
 * The operator's view of notifications: endpoint state, the delivery log, dead letters,
 * redelivery, a test ping, re-enabling after 410 Gone (all behind `adminOnly`); and the event
 * JSON Schema, public, for consumers.
 */
export function registerNotificationRoutes(router: Router, admin: NotificationAdmin, adminOnly: RequestHandler): void {
  const schema = JSON.stringify(envelopeJsonSchema(), null, 2);

  router.get('/notifications/schema/events.json', (_req, res) => {
    res.type('application/schema+json').send(schema);
  });

  // One example envelope per action, as an endpoint receives it: what a consumer codes against.
  router.get('/notifications/schema/examples/:file', (req, res) => {
    const action = /^([a-z]+)\.json$/.exec(req.params.file)?.[1];
    if (!action || !(EVENT_ACTIONS as readonly string[]).includes(action)) {
      throw new AdminError('INVALID_PARAMETER', `no example "${req.params.file.slice(0, 50)}"; there is one per action: ${EVENT_ACTIONS.map((a) => `${a}.json`).join(', ')}`, {
        examples: EVENT_ACTIONS.map((a) => `${a}.json`),
      });
    }
    res.attachment(`${action}.json`).type('application/json').send(`${JSON.stringify({ events: [exampleEvent(action as Action)] }, null, 2)}\n`);
  });

  router.use('/notifications/endpoints', adminOnly);
  router.use('/notifications/events', adminOnly);

  router.get('/notifications/events', async (req, res) => {
    const range = eventRange({
      since: query(req, 'since'),
      until: query(req, 'until'),
      repository: query(req, 'repository'),
      action: query(req, 'action'),
    });
    res.json({ ...range, events: await admin.events(range, limit(query(req, 'limit'))) });
  });

  router.post('/notifications/endpoints/:name/replay', json({ limit: '16kb' }), async (req, res) => {
    const name = endpointName(admin, req.params.name);
    const range = eventRange(req.body ?? {});
    const queued = await admin.replay(name, range);
    res.status(202).json({ endpoint: name, ...range, queued });
  });

  router.get('/notifications/endpoints', async (_req, res) => {
    res.json({ endpoints: await admin.status() });
  });

  router.get('/notifications/endpoints/:name/deliveries', async (req, res) => {
    const name = endpointName(admin, req.params.name);
    const attempts = await admin.deliveries(name, limit(query(req, 'limit')));
    res.json({ endpoint: name, deliveries: attempts.map((a) => ({ ...a, at: new Date(a.at).toISOString() })) });
  });

  router.get('/notifications/endpoints/:name/dead-letters', async (req, res) => {
    const name = endpointName(admin, req.params.name);
    const letters = (await admin.deadLetters(name, limit(query(req, 'limit')))).map((d) => ({
      event: d.event,
      attempts: d.attempts,
      status: d.status,
      error: d.error,
      enqueuedAt: new Date(d.enqueuedAt).toISOString(),
    }));
    res.json({ endpoint: name, deadLetters: letters });
  });

  router.post('/notifications/endpoints/:name/deliveries/:eventId/redeliver', async (req, res) => {
    const name = endpointName(admin, req.params.name);
    if (!(await admin.redeliver(name, req.params.eventId))) {
      throw new AdminError('EVENT_UNKNOWN', `endpoint ${name} has no stored event ${req.params.eventId.slice(0, 100)}`, {
        endpoint: name,
        event: req.params.eventId.slice(0, 100),
      });
    }
    res.status(202).json({ endpoint: name, event: req.params.eventId, queued: true });
  });

  router.post('/notifications/endpoints/:name/ping', async (req, res) => {
    const name = endpointName(admin, req.params.name);
    const outcome = await admin.ping(name);
    res.json({
      endpoint: name,
      event: outcome.events[0]?.id,
      status: outcome.status,
      latencyMs: outcome.latencyMs,
      error: outcome.error,
      response: outcome.response,
    });
  });

  router.post('/notifications/endpoints/:name/enable', async (req, res) => {
    const name = endpointName(admin, req.params.name);
    await admin.enable(name);
    res.status(204).end();
  });

  router.use(['/notifications/endpoints', '/notifications/events', '/notifications/schema'], ((err, _req, _res, next) => next(asAdminError(err))) as ErrorRequestHandler);
}

const instant = z.iso.datetime({ offset: true }).transform((s) => new Date(s).toISOString());
const rangeSchema = z.strictObject({
  since: instant,
  /** Default: now. */
  until: instant.optional(),
  repository: z.string().min(1).max(255).optional(),
  action: z.enum(['push', 'pull', 'delete', 'mount']).optional(),
});

/** A range of retained events, from a query string or a JSON body; ISO 8601 instants, normalized to UTC. */
function eventRange(input: unknown): EventRange {
  const parsed = rangeSchema.safeParse(input);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new AdminError('INVALID_PARAMETER', `${issue.path.join('.') || 'range'}: ${issue.message}`, {
      issues: parsed.error.issues.map((i) => ({ path: i.path.join('.'), message: i.message })),
    });
  }
  const r = parsed.data;
  const until = r.until ?? new Date().toISOString();
  if (until <= r.since) throw new AdminError('INVALID_PARAMETER', '"until" must be after "since"', { since: r.since, until });
  return { since: r.since, until, repository: r.repository ?? null, action: r.action ?? null };
}

function endpointName(admin: NotificationAdmin, name: string | undefined): string {
  if (!name || !admin.has(name)) {
    throw new AdminError('ENDPOINT_UNKNOWN', `no notification endpoint named "${(name ?? '').slice(0, 100)}"`, { endpoint: (name ?? '').slice(0, 100) });
  }
  return name;
}

function limit(raw: string | undefined): number {
  if (raw === undefined) return DEFAULT_LIMIT;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1) {
    throw new AdminError('INVALID_PARAMETER', 'query parameter "limit" must be a positive integer', { parameter: 'limit', value: raw.slice(0, 50) });
  }
  return Math.min(n, MAX_LIMIT);
}
