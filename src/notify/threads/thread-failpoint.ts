import { isMainThread, workerData } from 'node:worker_threads';

/**
 * Named failpoints inside the notification threads: where a fault test can make one *thread* die
 * (`process.exit(1)` in a worker ends only that worker), to prove the supervisor notices, fails
 * waiting requests fast and restarts it. `DOCKYARD_THREAD_FAILPOINTS` lists names, each with an
 * optional `@N` (die on the N-th hit, default the first) and `*K` (arm the first K incarnations
 * of the thread, default 1, so a restarted thread lives unless asked) and `:hang` (instead of
 * dying, spin forever: a stuck thread, which only its deadlines and `terminate()` can end):
 * `DOCKYARD_THREAD_FAILPOINTS=outbox.writer.commit@5,delivery.delivered@2*3,outbox.writer.commit@3:hang`.
 * The spec is read by the main thread when notifications start and handed to each incarnation
 * (see supervisor.ts); unset, as in production, `threadFailpoint` does nothing.
 */
export const THREAD_FAILPOINTS_ENV = 'DOCKYARD_THREAD_FAILPOINTS';

export interface ThreadFailpoint {
  name: string;
  /** Exit the thread, or block its event loop for good. */
  action: 'exit' | 'hang';
  /** Die on this hit. */
  at: number;
  /** Armed in incarnations 0 .. incarnations-1. */
  incarnations: number;
}

export function parseThreadFailpoints(text: string | undefined): ThreadFailpoint[] {
  const out: ThreadFailpoint[] = [];
  for (const item of (text ?? '').split(',').map((s) => s.trim()).filter(Boolean)) {
    const match = /^([^@*:]+)(?:@(\d+))?(?:\*(\d+))?(?::(exit|hang))?$/.exec(item);
    if (!match) continue;
    out.push({
      name: match[1]!,
      at: Math.max(1, Number(match[2] ?? 1)),
      incarnations: Math.max(1, Number(match[3] ?? 1)),
      action: match[4] === 'hang' ? 'hang' : 'exit',
    });
  }
  return out;
}

/** The failpoints armed for one incarnation of a thread (passed in its workerData as `failpoints`). */
export function armedFor(points: ThreadFailpoint[], incarnation: number): Record<string, Armed> {
  return Object.fromEntries(points.filter((p) => incarnation < p.incarnations).map((p) => [p.name, { at: p.at, action: p.action }]));
}

interface Armed {
  at: number;
  action: 'exit' | 'hang';
}

const armed = (isMainThread ? undefined : (workerData as { failpoints?: Record<string, Armed> } | null)?.failpoints) ?? {};
const hits = new Map<string, number>();

export const threadFailpoint: (name: string) => void =
  Object.keys(armed).length === 0
    ? () => {}
    : (name) => {
        const point = armed[name];
        if (point === undefined) return;
        const hit = (hits.get(name) ?? 0) + 1;
        hits.set(name, hit);
        if (hit !== point.at) return;
        process.stderr.write(`dockyard: thread failpoint ${name} reached: ${point.action === 'hang' ? 'blocking' : 'ending'} this thread\n`);
        if (point.action === 'exit') process.exit(1);
        for (;;); // stuck, as a thread in an endless loop is
      };
