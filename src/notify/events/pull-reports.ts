import type { Logger } from 'pino';
import { Counter, type Registry } from 'prom-client';
import { KeyedMutex } from '../../storage/keyed-mutex.ts';
import type { ListenerHooks } from './listener.ts';

/**
 * The listener's shared state: the per-tag order of changes and their events, and the pull
 * reports that wait for their response to conclude. Those are tracked so that the operator API
 * (pending counts) sees every pull that has concluded, and close() waits for them.
 */
export class ListenerState implements ListenerHooks {
  readonly tagOrder = new KeyedMutex();
  private readonly inflight = new Set<Promise<void>>();
  private readonly aborted: Counter<'kind'> | null;

  constructor(
    private readonly logger: Logger,
    metrics?: Registry,
  ) {
    this.aborted = metrics
      ? new Counter({
          name: 'dockyard_pulls_aborted_total',
          help: 'Downloads the client gave up on before the body was sent whole (not reported as pulls).',
          labelNames: ['kind'],
          registers: [metrics],
        })
      : null;
  }

  upon(concluded: Promise<boolean>, kind: 'blob' | 'manifest', report: () => Promise<void>): void {
    const done = concluded
      .then((sent) => (sent ? report() : void this.aborted?.inc({ kind })))
      .catch((err: unknown) => this.logger.error({ err, kind }, 'a concluded pull could not be queued as an event'))
      .finally(() => this.inflight.delete(done));
    this.inflight.add(done);
  }

  /** Resolves once every pull that has concluded so far is queued (or failed to be). */
  async settled(): Promise<void> {
    await Promise.all([...this.inflight]);
  }
}
