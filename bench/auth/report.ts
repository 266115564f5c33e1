/** Medians per row and server, the ratio, the table and the `## Request rates with token auth` section. */
import { machineFacts } from '../lib/machine.ts';
import { r1, r2 } from '../lib/stats.ts';
import { cell } from '../requests/report.ts';
import { putSection } from '../lib/section.ts';
import type { AuthMeasurement } from './run.ts';
import { CONCURRENCY, DURATION_S, ROUNDS, ROWS, X5C } from './settings.ts';

export const SECTION = '## Request rates with token auth';

export function summarize(ms: AuthMeasurement[]) {
  const rows = ROWS.map((spec) => {
    const d = cell(ms, spec.id, 'dockyard');
    const x = cell(ms, spec.id, 'distribution');
    return { spec, d, x, ratio: r2(d.rps / x.rps) };
  });
  const errNote = (errors: number) => (errors ? ` (${errors} errors)` : '');
  const table = [
    `| Row (concurrency ${CONCURRENCY}, ${DURATION_S} s) | Load gen | Dockyard req/s | p99 ms | Distribution req/s | p99 ms | Ratio D/X | Peak RSS MiB Dockyard / Distribution |`,
    '|---|---|---:|---:|---:|---:|---:|---:|',
    ...rows.map(
      (r) =>
        `| ${r.spec.title} | ${r.spec.method === 'GET' ? 'wrk' : 'node'} | ${r.d.rps}${errNote(r.d.errors)} | ${r.d.p99Ms} | ${r.x.rps}${errNote(r.x.errors)} | ${r.x.p99Ms} | ${r.ratio} | ${r.d.rssMiB} / ${r.x.rssMiB} |`,
    ),
  ].join('\n');
  return { rows, table };
}

export function writeSection(s: ReturnType<typeof summarize>, loadAtStart: number[], date = new Date().toISOString()): string {
  const m = machineFacts();
  const anyErrors = s.rows.some((r) => r.d.errors || r.x.errors);
  const body = [
    'Command (from the repository root):',
    '',
    '```',
    'npx tsx bench/auth-requests.ts   # knobs: BENCH_ROUNDS, BENCH_DURATION_S, BENCH_CONCURRENCY, BENCH_AUTH_X5C',
    '```',
    '',
    `Date: ${date}. Machine: ${m.nproc} cores (${m.cpu}), ${r1(m.memTotalBytes / 2 ** 30)} GiB memory, kernel ${m.kernel};`,
    `node ${m.node}; Distribution: ${m.distribution}. 1-minute load average at start: ${loadAtStart[0]?.toFixed(2)}.`,
    '',
    'What it does: both servers from the same config shape as the request-rate rows (no webhook), with',
    '`auth.token` on (realm, service, issuer, and a `rootcertbundle` holding a self-signed certificate that openssl made',
    'for this run). The bench signs one RS256 token with that key (jose): `kid` the libtrust id of the public key',
    `${X5C ? 'and the certificate in `x5c`' : 'and no `x5c`'}, claims iss/sub/aud/exp/nbf/iat/jti and pull+push access to the`,
    'repository. It seeds one image with the token and checks that a request without it gets 401, then runs each row',
    `against both servers in alternation (order flipped each round), ${ROUNDS} rounds, medians; every request carries`,
    `\`Authorization: Bearer <token>\`. GET: \`wrk -c${CONCURRENCY} -d${DURATION_S}s\`; HEAD: the Node raw-socket generator`,
    '(bench/requests/head-load.ts). Each server verifies the token on every request: this is the cost of that check',
    'added to the rows of "Request rates" above.',
    '',
    s.table,
    '',
    anyErrors ? 'A row with errors (non-2xx or socket errors) is suspect: the token was refused or the server failed.' : 'No row had an error (every reply 2xx).',
  ].join('\n');
  return putSection(SECTION, body);
}
