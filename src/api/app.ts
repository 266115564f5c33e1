import type { IncomingMessage, ServerResponse } from 'node:http';
import express from 'express';
import type { Logger } from 'pino';
import type { ClientAddress } from './client-address.ts';
import type { ApiDeps } from './deps.ts';
import { errorRenderer, notFound, notFoundError } from './errors.ts';
import { API_VERSION, Header } from './headers.ts';
import { measureExchange } from './exchange.ts';
import { pathOf, runInOrder, type ApiRequest, type ApiResponse, type Middleware } from './handler.ts';
import type { HttpMetrics } from './http-metrics.ts';
import { requestContext } from './request-context.ts';
import { readOnlyGuards } from './read-only.ts';
import { requestLog } from './request-log.ts';
import { registerBaseRoutes } from './routes/base.ts';
import { registerBlobRoutes } from './routes/blobs.ts';
import { registerCatalogRoutes } from './routes/catalog.ts';
import { registerManifestRoutes } from './routes/manifests.ts';
import { registerNotificationRoutes } from './routes/notifications.ts';
import { registerEndpointAdminRoutes } from './routes/endpoint-admin.ts';
import { registerImageImportRoutes } from './routes/image-import.ts';
import { registerUiRoutes } from './routes/ui.ts';
import { Inboxes } from '../notify/testbed/inbox.ts';
import { registerHealthRoutes } from './routes/health.ts';
import { registerReferrerRoutes } from './routes/referrers.ts';
import { registerTagRoutes } from './routes/tags.ts';
import { registerTokenRoutes } from './routes/token.ts';
import { registerUploadRoutes } from './routes/uploads.ts';
import { V2Router } from './v2-router.ts';

export interface HttpOptions {
  /** `http.headers`: added to every response. */
  headers: Record<string, string | string[]>;
  clients: ClientAddress;
  /** The access log, one line per request (`log.accesslog.disabled: false`). */
  accessLog: boolean;
  metrics: HttpMetrics;
}

/** The request listener of the HTTP server. */
export type App = (req: IncomingMessage, res: ServerResponse) => void;

/**
 * Builds the HTTP application: the `/v2/` API over the services in `deps` on node's own request
 * and response (v2-router.ts says why), the operator API, health and token routes on Express.
 */
export function createApp(deps: ApiDeps, http: HttpOptions, logger: Logger): App {
  const headers = Object.entries(http.headers);
  // What every request goes through first.
  const preamble: Middleware[] = [
    (_req, res, next) => {
      for (const [name, value] of headers) res.setHeader(name, value);
      res.setHeader(Header.ApiVersion, API_VERSION);
      next();
    },
    measureExchange(),
    requestContext(deps.externalBaseUrl, http.clients),
    http.metrics.middleware(),
    ...(http.accessLog ? [requestLog(logger) as Middleware] : []),
  ];

  if (deps.readOnly) deps = { ...deps, guards: readOnlyGuards(deps.guards) }; // writes refused after their auth check, before any store

  const v2 = new V2Router();
  registerManifestRoutes(v2, deps); // first: see exchange.ts
  registerBaseRoutes(v2, deps.guards);
  registerCatalogRoutes(v2, deps);
  registerTagRoutes(v2, deps);
  registerReferrerRoutes(v2, deps);
  registerUploadRoutes(v2, deps); // before blobs: "blobs/uploads" must not be read as a digest
  registerBlobRoutes(v2, deps);

  const rest = express();
  rest.disable('x-powered-by');
  rest.disable('etag');
  const admin = express.Router();
  registerHealthRoutes(admin, deps.notifications, deps.storageProblem);
  registerEndpointAdminRoutes(admin, deps.notifications, deps.guards.admin, deps.selfUrl ?? (() => ''));
  registerNotificationRoutes(admin, deps.notifications, deps.guards.admin);
  if (deps.ui.enabled) registerImageImportRoutes(admin, deps);
  if (deps.ui.enabled) registerUiRoutes(admin, { admin: deps.notifications, adminOnly: deps.guards.admin, inboxes: new Inboxes() });
  if (deps.tokenService) registerTokenRoutes(admin, deps.tokenService);
  const renderError = errorRenderer(logger);
  rest.use(admin);
  rest.use(notFound);
  rest.use(renderError);

  return (req, response) => {
    const res = response as ApiResponse;
    res.locals = Object.create(null) as Record<string, unknown>;
    const fail = (err: unknown) => renderError(err, req, res, () => undefined);
    runInOrder(preamble, req, res, (err) => {
      if (err !== undefined) return fail(err);
      const path = pathOf(req);
      const routed = path.startsWith('/v2') && v2.handle(path, req as ApiRequest, res, (e) => fail(e ?? notFoundError(req)));
      if (!routed) rest(req, res);
    });
  };
}
