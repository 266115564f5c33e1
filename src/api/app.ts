import express, { type Express } from 'express';
import type { Logger } from 'pino';
import type { ClientAddress } from './client-address.ts';
import type { ApiDeps } from './deps.ts';
import { errorRenderer, notFound } from './errors.ts';
import { API_VERSION, Header } from './headers.ts';
import { assertRoutesNamed, measureExchange } from './exchange.ts';
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

export interface HttpOptions {
  /** `http.headers`: added to every response. */
  headers: Record<string, string | string[]>;
  clients: ClientAddress;
  /** The access log, one line per request (`log.accesslog.disabled: false`). */
  accessLog: boolean;
  metrics: HttpMetrics;
}

/** Builds the HTTP application: the `/v2/` API over the services in `deps`. */
export function createApp(deps: ApiDeps, http: HttpOptions, logger: Logger): Express {
  const app = express();
  app.disable('x-powered-by');
  app.disable('etag');
  app.use((_req, res, next) => {
    for (const [name, value] of Object.entries(http.headers)) res.setHeader(name, value);
    res.setHeader(Header.ApiVersion, API_VERSION);
    next();
  });
  app.use(measureExchange());
  app.use(requestContext(deps.externalBaseUrl, http.clients));
  app.use(http.metrics.middleware());
  if (http.accessLog) app.use(requestLog(logger));

  if (deps.readOnly) deps = { ...deps, guards: readOnlyGuards(deps.guards) }; // writes refused after their auth check, before any store

  const v2 = express.Router({ caseSensitive: true, strict: true });
  registerBaseRoutes(v2, deps.guards);
  registerCatalogRoutes(v2, deps);
  registerTagRoutes(v2, deps);
  registerReferrerRoutes(v2, deps);
  registerUploadRoutes(v2, deps); // before blobs: "blobs/uploads" must not be read as a digest
  registerBlobRoutes(v2, deps);
  registerManifestRoutes(v2, deps);
  assertRoutesNamed(v2);
  app.use(v2);
  const admin = express.Router();
  registerHealthRoutes(admin, deps.notifications, deps.storageProblem);
  registerEndpointAdminRoutes(admin, deps.notifications, deps.guards.admin, deps.selfUrl ?? (() => ''));
  registerNotificationRoutes(admin, deps.notifications, deps.guards.admin);
  if (deps.ui.enabled) registerImageImportRoutes(admin, deps);
  if (deps.ui.enabled) registerUiRoutes(admin, { admin: deps.notifications, adminOnly: deps.guards.admin, inboxes: new Inboxes() });
  if (deps.tokenService) registerTokenRoutes(admin, deps.tokenService);
  app.use(admin);

  app.use(notFound);
  app.use(errorRenderer(logger));
  return app;
}
