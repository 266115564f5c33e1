import type { Router } from 'express';
import { isReady, type NotificationAdmin } from '../../notify/admin.ts';

/**
 * Liveness and readiness, for load balancers and orchestrators (no auth: they say nothing
 * secret). `/healthz`: the process answers. `/readyz`: operations can succeed now, i.e. the
 * storage answers (an S3 bucket reachable), both notification threads are up and the outbox
 * takes writes; 503 with the details otherwise (a thread restarting, the outbox file failing).
 */
export function registerHealthRoutes(router: Router, admin: NotificationAdmin, storageProblem: () => Promise<string | null>): void {
  router.get('/healthz', (_req, res) => {
    res.json({ status: 'ok' });
  });

  router.get('/readyz', async (_req, res) => {
    const [notifications, problem] = await Promise.all([admin.health(), storageProblem()]);
    const ready = isReady(notifications) && problem === null;
    const storage = problem === null ? { state: 'reachable' } : { state: 'error', error: problem };
    res.status(ready ? 200 : 503).json({ status: ready ? 'ok' : 'unavailable', storage, notifications });
  });
}
