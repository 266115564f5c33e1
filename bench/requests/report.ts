/** Medians per row and server, ratios, the fraction of the ceiling, the table and the BENCHMARKS.md section. */
import { putSection } from '../lib/section.ts';
import { machineFacts } from '../lib/machine.ts';
import { median, r1, r2 } from '../lib/stats.ts';
import type { Measurement, Subject } from './run.ts';
import { CONCURRENCY, DURATION_S, LIMIT_BODY_BYTES, ROUNDS, ROWS, WRK_THREADS } from './settings.ts';

export const SECTION = '## Request rates (manifest HEAD/GET, blob GET)';

export interface Cell {
  rps: number;
  p99Ms: number;
  rssMiB: number;
  errors: number;
}

/** The medians of one row for one server: requests/s, p99, peak RSS; errors summed. */
export function cell(ms: Pick<Measurement, 'row' | 'server' | 'load' | 'peakRssMiB'>[], row: string, server: Subject): Cell {
  const mine = ms.filter((m) => m.row === row && m.server === server);
  return {
    rps: Math.round(median(mine.map((m) => m.load.rps))),
    p99Ms: r2(median(mine.map((m) => m.load.p99Ms))),
    rssMiB: r1(median(mine.map((m) => m.peakRssMiB))),
    errors: mine.reduce((a, m) => a + m.load.errors, 0),
  };
}

const pct = (n: number, d: number) => `${Math.round((100 * n) / d)}%`;

export function summarize(ms: Measurement[]) {
  const limit = { GET: cell(ms, 'limit-get', 'limit'), HEAD: cell(ms, 'limit-head', 'limit') };
  const rows = ROWS.map((spec) => {
    const d = cell(ms, spec.id, 'dockyard');
    const x = cell(ms, spec.id, 'distribution');
    const ceiling = limit[spec.method].rps;
    return { spec, d, x, ratio: r2(d.rps / x.rps), dOfCeiling: pct(d.rps, ceiling), xOfCeiling: pct(x.rps, ceiling) };
  });
  const gen = (m: 'GET' | 'HEAD') => (m === 'GET' ? 'wrk' : 'node');
  const errNote = (c: Cell) => (c.errors ? ` (${c.errors} errors)` : '');
  const table = [
    '| Row (concurrency ' + CONCURRENCY + ', ' + DURATION_S + ' s) | Load gen | Dockyard req/s | p99 ms | Distribution req/s | p99 ms | Ratio D/X | Dockyard / Distribution of ceiling | Peak RSS MiB Dockyard / Distribution |',
    '|---|---|---:|---:|---:|---:|---:|---:|---:|',
    ...rows.map(
      (r) =>
        `| ${r.spec.title} | ${gen(r.spec.method)} | ${r.d.rps}${errNote(r.d)} | ${r.d.p99Ms} | ${r.x.rps}${errNote(r.x)} | ${r.x.p99Ms} | ${r.ratio} | ${r.dOfCeiling} / ${r.xOfCeiling} | ${r.d.rssMiB} / ${r.x.rssMiB} |`,
    ),
    `| Limit: bare node:http GET, ${LIMIT_BODY_BYTES} B | wrk | ${limit.GET.rps}${errNote(limit.GET)} | ${limit.GET.p99Ms} | | | | 100% | ${limit.GET.rssMiB} |`,
    `| Limit: bare node:http HEAD, ${LIMIT_BODY_BYTES} B | node | ${limit.HEAD.rps}${errNote(limit.HEAD)} | ${limit.HEAD.p99Ms} | | | | 100% | ${limit.HEAD.rssMiB} |`,
  ].join('\n');
  return { rows, limit, table, measurements: ms };
}

function reading(s: ReturnType<typeof summarize>): string {
  const by = (id: string) => s.rows.find((r) => r.spec.id === id);
  const manifestRows = s.rows.filter((r) => r.spec.target === 'manifest');
  const ratios = manifestRows.map((r) => `${r.spec.id} ${r.ratio}x`).join(', ');
  const met2x = manifestRows.every((r) => r.ratio >= 2);
  const ceil = manifestRows.map((r) => `${r.spec.id} ${r.dOfCeiling}`).join(', ');
  const met40 = manifestRows.every((r) => Number(r.dOfCeiling.replace('%', '')) >= 40);
  const p99 = manifestRows.every((r) => r.d.p99Ms <= r.x.p99Ms);
  const blob = by('blob');
  const posts = (row: string, server: Subject) => Math.round(median(s.measurements.filter((m) => m.row === row && m.server === server).map((m) => m.webhookPosts)));
  return [
    `Against issue 12's goals: manifest HEAD/GET >= 2x Distribution is ${met2x ? 'met' : 'not met'} (${ratios});`,
    `p99 no worse than Distribution's is ${p99 ? 'met' : 'not met'} on every manifest row;`,
    `>= 40% of the bare node:http ceiling (same generator) is ${met40 ? 'met' : 'not met'} (Dockyard: ${ceil}).`,
    blob ? `Blob GET of 1 MiB: ${blob.ratio}x Distribution.` : '',
    `Webhook POSTs the receiver got per 8 s run (median), Dockyard / Distribution: HEAD ${posts('head-notify', 'dockyard')} / ${posts('head-notify', 'distribution')},`,
    `GET ${posts('get-notify', 'dockyard')} / ${posts('get-notify', 'distribution')} (Distribution delivers pull events for HEAD too and batches them into few POSTs; Dockyard sends none for HEAD and one POST per GET).`,
    'Peak RSS is per row of one server process that serves its rows in table order (HEAD, GET, blob; then a fresh',
    'process for HEAD, GET with the webhook), so a later row\'s peak includes what earlier rows left resident.',
    'The ratios are the figures to trust: on 2 cores the load generator competes with the server for CPU,',
    'so absolute requests/s are lower than on a machine with a separate client. HEAD rows use the Node generator',
    "(wrk 4.1 completes no HEAD request: it waits for a body after Content-Length), so they are compared with the",
    'HEAD ceiling measured under that same generator, and GET rows with the wrk ceiling. Both generators are much',
    'lighter than a Node HTTP client (autocannon), so the ceiling here is far above the ~6,000/s issue 12 quotes.',
  ]
    .filter(Boolean)
    .join(' ');
}

export function writeSection(s: ReturnType<typeof summarize>, loadAtStart: number[], date = new Date().toISOString()): string {
  const m = machineFacts();
  const body = [
    SECTION,
    '',
    'Command (from the repository root):',
    '',
    '```',
    'npm run bench:requests   # = npx tsx bench/requests.ts (also the start of `npm run bench`)',
    '```',
    '',
    `Date: ${date}. Machine: ${m.nproc} cores (${m.cpu}), ${r1(m.memTotalBytes / 2 ** 30)} GiB memory,`,
    `kernel ${m.kernel}; node ${m.node}; Distribution: ${m.distribution}. 1-minute load average at start: ${loadAtStart[0]?.toFixed(2)}.`,
    '',
    'What it does: builds Dockyard and runs `node dist/main.js serve <config>` and `docker-registry serve <config>` from',
    'the same config shape (filesystem storage on the same disk, each on its own empty root, log level error, access',
    'log off), seeds one small image by tag into each over HTTP, and runs each row against both in alternation',
    `(order flipped each round), ${ROUNDS} rounds, medians. GET rows: \`wrk -t${WRK_THREADS} -c${CONCURRENCY} -d${DURATION_S}s --latency\`; HEAD rows:`,
    `a Node generator (${CONCURRENCY} keep-alive raw-socket connections, bench/requests/head-load.ts) in its own process. "webhook on": both`,
    'servers have one endpoint to a local receiver that answers 200 at once. Peak RSS: VmRSS sampled every 100 ms during the row.',
    '',
    s.table,
    '',
    reading(s),
    '',
  ].join('\n');
  return putSection(SECTION, body.slice(SECTION.length));
}
