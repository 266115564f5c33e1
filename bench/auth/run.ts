/** One server's turn in a round: fresh root with token auth on, an image seeded with the token, then each row under load. */
import * as os from 'node:os';
import { hasExited, withServer } from '../lib/processes.ts';
import { loadFor, type LoadResult } from '../requests/load.ts';
import { withPeakRss } from '../lib/rss.ts';
import type { ServerKind } from '../requests/settings.ts';
import { startServer } from '../load/servers.ts';
import { seedWithToken } from './seed.ts';
import { tokenAuthLines, type Signer } from './signer.ts';
import { MANIFEST_TYPE, REPO, ROWS, STOP_TIMEOUT_MS, TAG } from './settings.ts';

export interface AuthMeasurement {
  row: string;
  server: ServerKind;
  round: number;
  load: LoadResult;
  peakRssMiB: number;
  loadAvg1: number;
}

export function runAuthRows(kind: ServerKind, round: number, signer: Signer, token: string): Promise<AuthMeasurement[]> {
  return withServer(
    { label: kind, dirPrefix: `auth-bench-${kind}-`, stopTimeoutMs: STOP_TIMEOUT_MS },
    (dir) => startServer(kind, dir, tokenAuthLines(signer.certPath)),
    async (server) => {
      await seedWithToken(server.base, token);
      const headers = { Accept: MANIFEST_TYPE, Authorization: `Bearer ${token}` };
      const url = `${server.base}/v2/${REPO}/manifests/${TAG}`;
      const out: AuthMeasurement[] = [];
      for (const row of ROWS) {
        const { value: load, peakMiB } = await withPeakRss(server.pid, () => loadFor(row.method)(url, headers));
        if (hasExited(server.child)) throw new Error(`${kind} exited during ${row.id}: ${server.stderrTail()}`);
        out.push({ row: row.id, server: kind, round, load, peakRssMiB: peakMiB, loadAvg1: os.loadavg()[0] ?? NaN });
        process.stderr.write(
          `  round ${round} ${kind.padEnd(12)} ${row.id.padEnd(10)} ${load.rps.toFixed(0).padStart(6)} req/s  p99 ${load.p99Ms.toFixed(2)} ms  RSS ${peakMiB} MiB${load.errors ? `  ERRORS ${load.errors}` : ''}\n`,
        );
      }
      return out;
    },
  );
}
