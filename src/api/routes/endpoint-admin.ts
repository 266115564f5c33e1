import { randomBytes } from 'node:crypto';
import { json, type RequestHandler, type Router } from 'express';
import type { NotificationAdmin, PendingPolicy } from '../../notify/admin.ts';
import { EndpointChangeError } from '../../notify/runtime/endpoint-change-error.ts';
import { AdminError } from '../admin-error.ts';
import { query } from '../params.ts';

/** Random bytes of a generated inbox secret (Standard Webhooks: 24 to 64). */
const INBOX_SECRET_BYTES = 24;

/**
 * Runtime endpoints (behind `adminOnly`): create, replace, merge-change and remove endpoints
 * without a restart, each definition with config.yml's `notifications.endpoints[]` keys, as JSON.
 * Validation, the target guard and persistence are the notifier's (src/notify/runtime); this
 * file only speaks HTTP. `selfUrl` is the registry's own address, the target of inbox endpoints.
 *
 *   POST   /notifications/endpoints                 201 with the endpoint's status
 *   GET    /notifications/endpoints/:name/definition 200 {name, source, inbox, definition}
 *   PUT    /notifications/endpoints/:name           200 with its status (the whole definition)
 *   PATCH  /notifications/endpoints/:name           200 with its status (top-level keys merged; null removes one)
 *   DELETE /notifications/endpoints/:name?pending=drain|discard   204, or 202 while draining
 */
export function registerEndpointAdminRoutes(router: Router, admin: NotificationAdmin, adminOnly: RequestHandler, selfUrl: () => string): void {
  const body = json({ limit: '64kb' });

  router.post('/notifications/endpoints', adminOnly, body, async (req, res) => {
    const input = definitionOf(req.body);
    if (input.inbox === true) {
      const { inbox: _inbox, ...rest } = input;
      if (rest.url !== undefined || rest.secret !== undefined) {
        throw invalid('an inbox endpoint delivers to the registry itself: give no url nor secret', 'url');
      }
      const name = typeof rest.name === 'string' ? rest.name : '';
      const self = selfUrl();
      const definition = {
        ...rest,
        url: `${self}/ui/inbox/${encodeURIComponent(name)}`,
        secret: inboxSecret(),
        // With http.tls the registry delivers to its own listener, whose certificate names the
        // public host rather than the loopback address it is reached on: nothing to verify there.
        ...(self.startsWith('https:') && rest.tls === undefined ? { tls: { insecureskipverify: true } } : {}),
      };
      res.status(201).json(await translated(admin.createEndpoint(definition, { inbox: true })));
      return;
    }
    const { inbox: _inbox, ...definition } = input; // `inbox: false` says nothing
    res.status(201).json(await translated(admin.createEndpoint(definition)));
  });

  router.get('/notifications/endpoints/:name/definition', adminOnly, (req, res) => {
    const found = admin.endpointDefinition(String(req.params.name));
    if (!found) throw new AdminError('ENDPOINT_UNKNOWN', `no notification endpoint named "${String(req.params.name).slice(0, 100)}"`);
    res.json(found);
  });

  router.put('/notifications/endpoints/:name', adminOnly, body, async (req, res) => {
    const name = String(req.params.name);
    const current = runtimeDefinition(admin, name);
    const definition = { name, ...keptInboxTarget(current, definitionOf(req.body)) };
    res.json(await translated(admin.replaceEndpoint(name, definition)));
  });

  router.patch('/notifications/endpoints/:name', adminOnly, body, async (req, res) => {
    const name = String(req.params.name);
    const merged: Record<string, unknown> = { ...runtimeDefinition(admin, name).definition };
    for (const [key, value] of Object.entries(definitionOf(req.body))) {
      if (value === null) delete merged[key];
      else merged[key] = value;
    }
    res.json(await translated(admin.replaceEndpoint(name, merged)));
  });

  router.delete('/notifications/endpoints/:name', adminOnly, async (req, res) => {
    const name = String(req.params.name);
    const raw = query(req, 'pending');
    if (raw !== undefined && raw !== 'drain' && raw !== 'discard') {
      throw new AdminError('INVALID_PARAMETER', 'query parameter "pending" must be "drain" or "discard"', { parameter: 'pending', value: raw.slice(0, 100) });
    }
    const outcome = await translated(admin.removeEndpoint(name, (raw ?? null) as PendingPolicy | null));
    if (outcome === 'draining') res.status(202).json({ endpoint: name, draining: true });
    else res.status(204).end();
  });

}

/** Awaits a notifier call, its EndpointChangeError becoming the AdminError of the same code. */
async function translated<T>(work: Promise<T>): Promise<T> {
  try {
    return await work;
  } catch (err) {
    if (err instanceof EndpointChangeError) throw new AdminError(err.code, err.message, err.detail);
    throw err;
  }
}

function invalid(message: string, path = ''): AdminError {
  return new AdminError('INVALID_ENDPOINT', message, { issues: [{ path, message }] });
}

/** The request body as a definition: a JSON object, nothing else. */
function definitionOf(body: unknown): Record<string, unknown> {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw invalid('the body must be one endpoint as a JSON object (content-type: application/json), with config.yml\'s keys');
  }
  return body as Record<string, unknown>;
}

/** A runtime endpoint's stored definition; a config endpoint is read-only, an unknown one 404. */
function runtimeDefinition(admin: NotificationAdmin, name: string): { definition: Record<string, unknown>; inbox: boolean } {
  const found = admin.endpointDefinition(name);
  if (!found) throw new AdminError('ENDPOINT_UNKNOWN', `no notification endpoint named "${name.slice(0, 100)}"`, { endpoint: name.slice(0, 100) });
  if (found.source === 'config' || !found.definition) {
    throw new AdminError(
      'ENDPOINT_READ_ONLY',
      `endpoint "${name}" comes from the configuration: edit notifications.endpoints in the config file and restart the registry to change or remove it`,
      { endpoint: name, source: 'config' },
    );
  }
  return { definition: found.definition, inbox: found.inbox };
}

/** A PUT of an inbox endpoint without a url keeps its own target and secret (the client never had to know them). */
function keptInboxTarget(current: { definition: Record<string, unknown>; inbox: boolean }, next: Record<string, unknown>): Record<string, unknown> {
  const { inbox: _inbox, ...rest } = next;
  if (!current.inbox || rest.url !== undefined) return rest;
  return { ...rest, url: current.definition.url, secret: rest.secret ?? current.definition.secret };
}

/** A Standard Webhooks secret: `whsec_` and the base64 of random bytes. */
function inboxSecret(): string {
  return `whsec_${randomBytes(INBOX_SECRET_BYTES).toString('base64')}`;
}
