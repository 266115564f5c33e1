import type { MetricUpdate } from './metric-updates.ts';

/** Calls from the main thread to the delivery thread (the operator API, shutdown). */
export interface DeliveryCall {
  kind: 'call';
  id: number;
  method: 'status' | 'pending' | 'deliveries' | 'deadLetters' | 'redeliver' | 'enable' | 'ping' | 'close';
  args: unknown[];
}

/** What the delivery thread sends back: results of calls, and metric changes as they happen. */
export type DeliveryMessage =
  | { kind: 'result'; id: number; value?: unknown; error?: string }
  | { kind: 'metrics'; updates: MetricUpdate[] }
  /** The engine is built and delivering. */
  | { kind: 'ready' };
