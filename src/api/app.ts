import express, { type Express, type RequestHandler } from 'express';
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

/**
 * Middleware run one after another as one: each calls `next()` to pass on (synchronously or not),
 * or `next(err)` to stop with an error, as in Express.
 */
function inOrder(handlers: RequestHandler[]): RequestHandler {
  return (req, res, done) => {
    let i = 0;
    const next = (err?: unknown): void => {
      if (err !== undefined && err !== null) return done(err);
      const handler = handlers[i++];
      if (!handler) return done();
      try {
        const result = handler(req, res, next) as unknown;
        if (result instanceof Promise) result.catch(done);
      } catch (caught) {
        done(caught);
      }
    };
    next();
  };
}

/** Builds the HTTP application: the `/v2/` API over the services in `deps`. */
export function createApp(deps: ApiDeps, http: HttpOptions, logger: Logger): Express {
  const app = express();
  app.disable('x-powered-by');
  app.disable('etag');
  const headers = Object.entries(http.headers);
  // What every request goes through first, as one layer of the app (each layer costs a route match).
  app.use(inOrder([
    (_req, res, next) => {
      for (const [name, value] of headers) res.setHeader(name, value);
      res.setHeader(Header.ApiVersion, API_VERSION);
      next();
    },
    measureExchange(),
    requestContext(deps.externalBaseUrl, http.clients),
    http.metrics.middleware(),
    ...(http.accessLog ? [requestLog(logger)] : []),
  ]));

  if (deps.readOnly) deps = { ...deps, guards: readOnlyGuards(deps.guards) }; // writes refused after their auth check, before any store

  const v2 = express.Router({ caseSensitive: true, strict: true });
  registerManifestRoutes(v2, deps); // first: see exchange.ts
  registerBaseRoutes(v2, deps.guards);
  registerCatalogRoutes(v2, deps);
  registerTagRoutes(v2, deps);
  registerReferrerRoutes(v2, deps);
  registerUploadRoutes(v2, deps); // before blobs: "blobs/uploads" must not be read as a digest
  registerBlobRoutes(v2, deps);
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
