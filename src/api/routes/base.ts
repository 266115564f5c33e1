import type { Router } from 'express';
import { resource } from '../resource.ts';

/** `GET /v2/`: the API version check every client starts with. */
export function registerBaseRoutes(router: Router): void {
  resource(router, /^\/v2\/?$/, {
    GET: (_req, res) => {
      res.json({});
    },
    HEAD: (_req, res) => {
      res.status(200).end();
    },
  });
}
