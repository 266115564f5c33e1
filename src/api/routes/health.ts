import type { Router } from 'express';
import { isReady, type NotificationAdmin } from '../../notify/admin.ts';

/**
 * Liveness and readiness, for load balancers and orchestrators (no auth: they say nothing
 * secret). `/healthz`: the process answers. `/readyz`: operations that emit events can succeed
 * now, i.e. both notification threads are up and the outbox takes writes; 503 with the details
 * otherwise (a thread restarting, the outbox file failing).
 */
export function registerHealthRoutes(router: Router, admin: NotificationAdmin): void {
  router.get('/healthz', (_req, res) => {
    res.json({ status: 'ok' });
  });

  router.get('/readyz', async (_req, res) => {
    const notifications = await admin.health();
    const ready = isReady(notifications);
    res.status(ready ? 200 : 503).json({ status: ready ? 'ok' : 'unavailable', notifications });
  });
}
