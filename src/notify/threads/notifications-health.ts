import type { NotificationsHealth } from '../admin.ts';
import type { Supervisor } from './supervisor.ts';
import { withDeadline } from './unavailable.ts';

/** The round trips that prove each part serves: a small commit through the writer, an answer from the delivery thread. */
export interface HealthChecks {
  commit(): Promise<unknown>;
  answer(): Promise<unknown>;
}

/**
 * Readiness of notifications (`GET /readyz`): both threads and the outbox. Never hangs: each
 * check has `deadlineMs`, and a thread that is down is reported without being asked.
 */
export async function notificationsHealth(writer: Supervisor, delivery: Supervisor, checks: HealthChecks, deadlineMs: number): Promise<NotificationsHealth> {
  const [outboxError, deliveryError] = await Promise.all([
    writer.live ? problem(checks.commit, deadlineMs, `no commit within ${deadlineMs} ms`) : `the outbox writer thread is ${writer.state}`,
    delivery.live ? problem(checks.answer, deadlineMs, `not answering within ${deadlineMs} ms`) : (delivery.error ?? `the thread is ${delivery.state}`),
  ]);
  return {
    writer: writer.state,
    delivery: deliveryError === null ? 'up' : delivery.state === 'up' ? 'down' : delivery.state,
    outbox: outboxError === null ? 'writable' : 'error',
    restarts: { writer: writer.restarts, delivery: delivery.restarts },
    errors: {
      writer: writer.state === 'up' ? null : (writer.error ?? `the thread is ${writer.state}`),
      delivery: deliveryError,
      outbox: outboxError,
    },
  };
}

/** Why the check fails (its error, or missing its deadline), or null. */
async function problem(check: () => Promise<unknown>, deadlineMs: number, late: string): Promise<string | null> {
  try {
    await withDeadline(check(), deadlineMs, () => new Error(late));
    return null;
  } catch (err) {
    return err instanceof Error ? err.message : String(err);
  }
}
