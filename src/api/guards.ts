import type { IncomingMessage } from 'node:http';
import type { AccessControl, AccessRequest } from '../auth/access-control.ts';
import { OPEN_IDENTITY, type Identity } from '../auth/identity.ts';
import type { ApiRequest, ApiResponse, Handler, Middleware } from './handler.ts';
import { CATALOG_SCOPE, repositoryScope, type Scope } from '../auth/scope.ts';
import { nameParam } from './params.ts';
import { contextOf } from './request-context.ts';

/** Route middleware that lets a request through only with the access it needs; named by that access. */
export interface Guards {
  /** `repository:<name>:pull`. */
  pull: Handler;
  /** `repository:<name>:pull,push`. */
  push: Handler;
  /** `repository:<name>:delete`. */
  delete: Handler;
  /** `registry:catalog:*`. */
  catalog: Handler;
  /** Any authenticated caller (`GET /v2/`). */
  signedIn: Handler;
  /** The operator API (its routes are Express's; this needs only node's request). */
  admin: Middleware;
}

export function createGuards(access: AccessControl): Guards {
  // Auth off: the registry's routes cost nothing extra (the operator API still checks).
  const guard = (needs: (req: ApiRequest) => Scope[]): Handler =>
    access.open
      ? (_req, _res, next) => next()
      : async (req, res, next) => {
          admit(res, await access.authorize(accessRequest(req, res), needs(req)));
          next();
        };
  return {
    pull: guard((req) => [repositoryScope(nameParam(req), 'pull')]),
    push: guard((req) => [repositoryScope(nameParam(req), 'pull', 'push')]),
    delete: guard((req) => [repositoryScope(nameParam(req), 'delete')]),
    catalog: guard(() => [CATALOG_SCOPE]),
    signedIn: guard(() => []),
    admin: async (req, res, next) => {
      admit(res, await access.authorizeAdmin(accessRequest(req, res)));
      next();
    },
  };
}

/** The identity a guard let through (anyone, on a route without a guard). */
export function identityOf(res: ApiResponse): Identity {
  return (res.locals.identity as Identity | undefined) ?? OPEN_IDENTITY;
}

function accessRequest(req: IncomingMessage, res: ApiResponse): AccessRequest {
  const ctx = contextOf(res);
  return { authorization: req.headers.authorization, clientAddr: ctx.clientIp, baseUrl: ctx.baseUrl };
}

function admit(res: ApiResponse, identity: Identity): void {
  res.locals.identity = identity;
  if (identity.name) contextOf(res).actor = identity.name;
}
