/** What one server's load run saw: latencies per operation, errors by class, and the events owed. */
import { percentile, r2 } from '../lib/stats.ts';
import { classOf, OP_KINDS, type OpKind } from './events.ts';
import { ERROR_SAMPLES } from './settings.ts';

export type ErrorClass = 'server' | 'client' | 'content';

export interface ErrorSample {
  op: OpKind;
  class: ErrorClass;
  status: number | null;
  detail: string;
  atS: number;
}

export class Tally {
  readonly latencies = new Map<OpKind, number[]>(OP_KINDS.map((k) => [k, []]));
  /** 5xx replies and transport errors (the server's fault). */
  serverErrors = 0;
  /** Any other status than the one the flow expects (what a client would see fail). */
  clientErrors = 0;
  /** A 200 whose body was not what was pushed (a manifest that differs, a blob whose sha256 does not match). */
  wrongContent = 0;
  readonly samples: ErrorSample[] = [];
  /** Event key -> how many times it is owed. */
  readonly owed = new Map<string, number>();
  cycles = 0;

  constructor(private readonly startMs: number) {}

  ok(op: OpKind, ms: number): void {
    this.latencies.get(op)?.push(ms);
  }

  fail(op: OpKind, cls: ErrorClass, status: number | null, detail: string): void {
    if (cls === 'server') this.serverErrors++;
    else if (cls === 'client') this.clientErrors++;
    else this.wrongContent++;
    if (this.samples.length < ERROR_SAMPLES) this.samples.push({ op, class: cls, status, detail: detail.slice(0, 300), atS: r2((Date.now() - this.startMs) / 1000) });
  }

  owe(key: string | null): void {
    if (key) this.owed.set(key, (this.owed.get(key) ?? 0) + 1);
  }

  /** Owed events per class (`push PUT manifest`, ...). */
  owedByClass(): Map<string, number> {
    const out = new Map<string, number>();
    for (const [key, n] of this.owed) {
      const cls = classOf(key);
      out.set(cls, (out.get(cls) ?? 0) + n);
    }
    return out;
  }

  /** Per operation: completed count, rate over `seconds`, p50 and p99 in ms. */
  perOp(seconds: number): Record<OpKind, { count: number; perS: number; p50Ms: number; p99Ms: number }> {
    const out = {} as Record<OpKind, { count: number; perS: number; p50Ms: number; p99Ms: number }>;
    for (const op of OP_KINDS) {
      const xs = [...(this.latencies.get(op) ?? [])].sort((a, b) => a - b);
      out[op] = { count: xs.length, perS: Math.round(xs.length / seconds), p50Ms: r2(percentile(xs, 50)), p99Ms: r2(percentile(xs, 99)) };
    }
    return out;
  }
}
