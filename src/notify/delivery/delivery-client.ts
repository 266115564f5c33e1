import type { MetricUpdate } from '../metric-updates.ts';
import type { DeliveryMessage, DeliveryMethod, DeliveryMethods, DeliveryRequest } from '../protocol.ts';
import type { Supervisor } from '../threads/supervisor.ts';
import { unavailable } from '../threads/unavailable.ts';

/** Calls that read or write the outbox through the writer: refused at once while it is down. */
const NEEDS_WRITER: ReadonlySet<DeliveryMethod> = new Set(['status', 'deliveries', 'deadLetters', 'redeliver', 'enable']);

interface PendingCall {
  resolve: (v: unknown) => void;
  reject: (e: unknown) => void;
  timer: NodeJS.Timeout;
}

/**
 * The main thread's side of the delivery protocol: typed calls, each with a deadline, refused at
 * once (503) when a thread it needs is down; failed together when the delivery thread dies.
 */
export class DeliveryClient {
  private readonly calls = new Map<number, PendingCall>();
  private nextCall = 1;

  constructor(
    private readonly delivery: Supervisor,
    private readonly writer: Supervisor,
    private readonly deadlines: { callMs: number; pingMs: number },
    private readonly onMetrics: (updates: MetricUpdate[]) => void,
  ) {}

  /** A message from (any incarnation of) the delivery thread. */
  received(message: DeliveryMessage): void {
    if (message.kind === 'ready') return; // the supervisor listens for it
    if (message.kind === 'metrics') {
      this.onMetrics(message.updates);
      return;
    }
    const pending = this.calls.get(message.id);
    if (!pending) return;
    this.calls.delete(message.id);
    clearTimeout(pending.timer);
    if (message.error !== undefined) pending.reject(new Error(message.error));
    else pending.resolve(message.value);
  }

  /** The delivery thread is gone: every call waiting for it fails with `err`. */
  failAll(err: Error): void {
    const calls = [...this.calls.values()];
    this.calls.clear();
    for (const c of calls) {
      clearTimeout(c.timer);
      c.reject(err);
    }
  }

  call<M extends DeliveryMethod>(method: M, ...args: Parameters<DeliveryMethods[M]>): Promise<ReturnType<DeliveryMethods[M]>> {
    const delivery = this.delivery.live;
    if (!delivery) {
      return Promise.reject(unavailable(`the delivery thread is ${this.delivery.state}`, { thread: 'delivery', state: this.delivery.state }));
    }
    if (NEEDS_WRITER.has(method) && !this.writer.live) {
      return Promise.reject(unavailable(`the outbox writer thread is ${this.writer.state}`, { thread: 'outbox-writer', state: this.writer.state }));
    }
    const id = this.nextCall++;
    const ms = method === 'ping' ? this.deadlines.pingMs : this.deadlines.callMs;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.calls.delete(id);
        reject(unavailable(`the delivery thread did not answer ${method} within ${ms} ms`, { thread: 'delivery', method }));
        // `pending` only reads the outbox: no answer means the thread's event loop is stuck.
        if (method === 'pending') this.delivery.kill(`did not answer within ${ms} ms`);
      }, ms);
      timer.unref();
      this.calls.set(id, { resolve: resolve as (v: unknown) => void, reject, timer });
      delivery.postMessage({ kind: 'call', id, method, args } as DeliveryRequest);
    });
  }
}
