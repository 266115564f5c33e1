import type { Router } from 'express';
import type { Guards } from '../guards.ts';
import { resource } from '../resource.ts';

/** `GET /v2/`: the API version check every client starts with (and where it learns to authenticate). */
export function registerBaseRoutes(router: Router, guards: Guards): void {
  resource(router, /^\/v2\/?$/, {
    GET: [guards.signedIn, (_req, res) => {
      res.json({});
    }],
    HEAD: [guards.signedIn, (_req, res) => {
      res.status(200).end();
    }],
  });
}
