/** The notifications benchmark's report: the one-line summary per run, the Markdown table and the goals. */
import { BURST_OPS, CAPACITY_OPS, CONCURRENCY, CONFIGS, GOALS, LABEL, LATENCY_GAP_MS, LATENCY_OPS, SUSTAIN_S, type ConfigKind, type Phase } from './common.ts';
import type { FloodResult, LatencyResult } from './measure.ts';
import type { Run } from './run.ts';

export function describeRun(run: Run): string {
  const r = run.result;
  if ('p50Ms' in r) {
    return `p50 ${r.p50Ms} ms, p99 ${r.p99Ms} ms, max ${r.maxMs} ms (${r.received}/${r.ok} events, ${r.beforeResponse} before the response)`;
  }
  return (
    `${r.ok} pulls in ${r.loadSeconds} s (${r.pullsPerSecond}/s); received ${r.received}${r.complete ? '' : ' (INCOMPLETE)'} ` +
    `at ${r.receiverEventsPerSecond} ev/s in ${r.posts} POSTs; last event ${r.lastEventAfterLoadEndMs} ms after the load; ` +
    `${r.receivedAtLoadEnd} in at load end; server CPU ${r.serverCpuSeconds} s; loadavg ${run.loadAvgBefore}→${run.loadAvgAfter}`
  );
}

export function fmt(n: number | string | null | undefined, digits = 1): string {
  if (typeof n === 'string') return n;
  if (n === null || n === undefined || !Number.isFinite(n)) return '–';
  return Math.abs(n) >= 1000 ? Math.round(n).toLocaleString('en-US') : n.toFixed(digits).replace(/\.0+$/, '');
}

function ratio(a: number | string | null | undefined, b: number | string | null | undefined): string {
  if (typeof a === 'string' || typeof b === 'string') return '–';
  if (a === null || a === undefined || b === null || b === undefined || !Number.isFinite(a) || !Number.isFinite(b) || b === 0) return '–';
  return (a / b).toFixed(2);
}

type Cell = number | string | null | undefined;
type Row = { label: string; pick: (phase: Record<ConfigKind, Run | undefined>) => Record<ConfigKind, Cell>; digits?: number };

export function buildTable(runs: Run[]): string {
  const by = (phase: Phase): Record<ConfigKind, Run | undefined> => ({
    dockyard: runs.find((r) => r.phase === phase && r.config === 'dockyard'),
    'dockyard-batched': runs.find((r) => r.phase === phase && r.config === 'dockyard-batched'),
    distribution: runs.find((r) => r.phase === phase && r.config === 'distribution'),
  });
  const lat = (f: keyof LatencyResult) => (p: Record<ConfigKind, Run | undefined>) =>
    Object.fromEntries(CONFIGS.map((k) => [k, (p[k]?.result as LatencyResult | undefined)?.[f] as number | undefined])) as Record<ConfigKind, number | undefined>;
  const fl = (f: keyof FloodResult) => (p: Record<ConfigKind, Run | undefined>) =>
    Object.fromEntries(CONFIGS.map((k) => [k, (p[k]?.result as FloodResult | undefined)?.[f] as number | undefined])) as Record<ConfigKind, number | undefined>;
  /** "received/successful pulls", flagged when short. */
  const counted = (p: Record<ConfigKind, Run | undefined>) =>
    Object.fromEntries(
      CONFIGS.map((k) => {
        const r = p[k]?.result;
        if (!r) return [k, undefined];
        const got = r.received;
        return [k, `${got.toLocaleString('en-US')}/${r.ok.toLocaleString('en-US')}${got < r.ok ? ' (short)' : ''}`];
      }),
    ) as Record<ConfigKind, Cell>;
  const afterS = (p: Record<ConfigKind, Run | undefined>) =>
    Object.fromEntries(
      CONFIGS.map((k) => {
        const r = p[k]?.result as FloodResult | undefined;
        if (!r) return [k, undefined];
        const v = Math.max(0, r.lastEventAfterLoadEndMs) / 1000;
        return [k, r.complete ? v : `> ${v.toFixed(1)} (incomplete)`];
      }),
    ) as Record<ConfigKind, Cell>;
  const sections: [Phase, string, Row[]][] = [
    [
      'latency',
      `1. Event latency, ${LATENCY_OPS} pulls ${LATENCY_GAP_MS} ms apart`,
      [
        { label: 'p50 (ms)', pick: lat('p50Ms'), digits: 2 },
        { label: 'p99 (ms)', pick: lat('p99Ms'), digits: 2 },
        { label: 'max (ms)', pick: lat('maxMs'), digits: 1 },
        { label: 'events received / pulls', pick: counted },
      ],
    ],
    [
      'burst',
      `2. Burst of ${BURST_OPS.toLocaleString('en-US')} pulls, ${CONCURRENCY} in flight`,
      [
        { label: 'events/s at receiver (first→last event)', pick: fl('receiverEventsPerSecond'), digits: 0 },
        { label: 'pulls/s (client)', pick: fl('pullsPerSecond'), digits: 0 },
        { label: 'last event after load end (s)', pick: afterS, digits: 2 },
        { label: 'events received / pulls', pick: counted },
        { label: 'events per POST', pick: fl('eventsPerPost'), digits: 1 },
        { label: 'server CPU per pull (ms)', pick: fl('serverCpuMsPerEvent'), digits: 3 },
      ],
    ],
    [
      'backlog',
      `3. ${SUSTAIN_S} s pull load, ${CONCURRENCY} in flight`,
      [
        { label: 'backlog: load end → all events (s)', pick: afterS, digits: 2 },
        { label: 'events received / successful pulls', pick: counted },
        { label: 'pulls/s (client)', pick: fl('pullsPerSecond'), digits: 0 },
        { label: 'events still queued at load end', pick: (p) => {
          const out = {} as Record<ConfigKind, number | undefined>;
          for (const k of CONFIGS) {
            const r = p[k]?.result as FloodResult | undefined;
            out[k] = r ? r.ok - r.receivedAtLoadEnd : undefined;
          }
          return out;
        }, digits: 0 },
        { label: 'drain rate after load end (events/s)', pick: fl('drainEventsPerSecond'), digits: 0 },
      ],
    ],
    [
      'capacity',
      `4. Delivery capacity (diagnostic): backlog of ${CAPACITY_OPS.toLocaleString('en-US')} events, receiver paused during the pulls`,
      [
        { label: 'events/s at receiver (first→last event)', pick: fl('receiverEventsPerSecond'), digits: 0 },
        { label: 'receiver resumed → all events (s, incl. retry back-off)', pick: (p) => {
          const out = {} as Record<ConfigKind, number | undefined>;
          for (const k of CONFIGS) {
            const r = p[k]?.result as FloodResult | undefined;
            out[k] = r?.resumeToLastEventMs === undefined ? undefined : r.resumeToLastEventMs / 1000;
          }
          return out;
        }, digits: 2 },
        { label: 'server CPU while draining (s)', pick: fl('serverCpuSecondsWhileDraining'), digits: 2 },
        { label: 'events received / pulls', pick: counted },
        { label: 'events per POST', pick: fl('eventsPerPost'), digits: 1 },
      ],
    ],
  ];
  const out: string[] = [
    `| Measurement | ${LABEL.dockyard} | ${LABEL['dockyard-batched']} | ${LABEL.distribution} | Ratio unbatched/Distribution | Ratio batched/Distribution |`,
    '|---|---:|---:|---:|---:|---:|',
  ];
  for (const [phase, title, rows] of sections) {
    if (!runs.some((r) => r.phase === phase)) continue;
    out.push(`| **${title}** | | | | | |`);
    const p = by(phase);
    for (const row of rows) {
      const v = row.pick(p);
      const d = row.digits ?? 1;
      out.push(
        `| ${row.label} | ${fmt(v.dockyard, d)} | ${fmt(v['dockyard-batched'], d)} | ${fmt(v.distribution, d)} | ${ratio(v.dockyard, v.distribution)} | ${ratio(v['dockyard-batched'], v.distribution)} |`,
      );
    }
  }
  return out.join('\n');
}

export function goals(runs: Run[]) {
  const find = (phase: Phase, config: ConfigKind) => runs.find((r) => r.phase === phase && r.config === config)?.result;
  const latency = find('latency', 'dockyard') as LatencyResult | undefined;
  const burst = find('burst', 'dockyard') as FloodResult | undefined;
  const burstB = find('burst', 'dockyard-batched') as FloodResult | undefined;
  const capacity = find('capacity', 'dockyard') as FloodResult | undefined;
  const capacityB = find('capacity', 'dockyard-batched') as FloodResult | undefined;
  const backlog = find('backlog', 'dockyard') as FloodResult | undefined;
  const backlogB = find('backlog', 'dockyard-batched') as FloodResult | undefined;
  const backlogS = (r: FloodResult | undefined) => (r ? (r.complete ? Math.max(0, r.lastEventAfterLoadEndMs) / 1000 : Infinity) : undefined);
  const item = (goal: string, measured: number | undefined, unit: string, met: (v: number) => boolean) => ({
    goal,
    measured: measured === undefined ? null : Number.isFinite(measured) ? measured : 'incomplete',
    unit,
    met: measured === undefined ? null : met(measured),
  });
  return [
    item(`event latency p50 under ${GOALS.latencyP50Ms} ms (unbatched)`, latency?.p50Ms, 'ms', (v) => v < GOALS.latencyP50Ms),
    // The sustained delivery rate is measured on a backlog (capacity): during a burst the receiver
    // can never see more events/s than the registry serves pulls/s, whatever delivery could do.
    item(`at least ${GOALS.unbatchedEventsPerS} events/s unbatched (delivering a backlog)`, capacity?.receiverEventsPerSecond, 'events/s', (v) => v >= GOALS.unbatchedEventsPerS),
    item(`at least ${GOALS.batchedEventsPerS} events/s batched (delivering a backlog)`, capacityB?.receiverEventsPerSecond, 'events/s', (v) => v >= GOALS.batchedEventsPerS),
    item(`unbatched delivery keeps up with a 32-way pull burst: last event within ${GOALS.backlogS} s of the load`, burst ? burst.lastEventAfterLoadEndMs / 1000 : undefined, 's', (v) => v < GOALS.backlogS),
    item(`batched delivery keeps up with a 32-way pull burst: last event within ${GOALS.backlogS} s of the load`, burstB ? burstB.lastEventAfterLoadEndMs / 1000 : undefined, 's', (v) => v < GOALS.backlogS),
    item(`backlog under ${GOALS.backlogS} s after a ${SUSTAIN_S} s load (unbatched)`, backlogS(backlog), 's', (v) => v < GOALS.backlogS),
    item(`backlog under ${GOALS.backlogS} s after a ${SUSTAIN_S} s load (batched)`, backlogS(backlogB), 's', (v) => v < GOALS.backlogS),
  ];
}
