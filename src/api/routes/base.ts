import { sendJson } from '../handler.ts';
import type { V2Router } from '../v2-router.ts';
import type { Guards } from '../guards.ts';
import { resource } from '../resource.ts';

/** `GET /v2/`: the API version check every client starts with (and where it learns to authenticate). */
export function registerBaseRoutes(router: V2Router, guards: Guards): void {
  resource(router, /^\/v2\/?$/, {
    GET: [guards.signedIn, (req, res) => {
      sendJson(req, res, {});
    }],
    HEAD: [guards.signedIn, (_req, res) => {
      res.statusCode = 200;
      res.end();
    }],
  });
}
