/** One server's turn in a round: fresh root, seeded image, then each of its rows under load. */
import * as os from 'node:os';
import { hasExited, withServer } from '../lib/processes.ts';
import { loadFor, type LoadResult } from './load.ts';
import type { Receiver } from './receiver.ts';
import { withPeakRss } from '../lib/rss.ts';
import { seedImage } from './seed.ts';
import { startLimit, startRegistry, type Started } from './servers.ts';
import { MANIFEST_TYPE, REPO, STOP_TIMEOUT_MS, TAG, type RowSpec, type ServerKind } from './settings.ts';

export type Subject = ServerKind | 'limit';

export interface Measurement {
  row: string;
  server: Subject;
  round: number;
  load: LoadResult;
  peakRssMiB: number;
  webhookPosts: number;
  loadAvg1: number;
}

async function measureRows(server: Started, subject: Subject, round: number, rows: RowSpec[], receiver: Receiver, paths: Record<RowSpec['target'], string>): Promise<Measurement[]> {
  const out: Measurement[] = [];
  for (const row of rows) {
    const postsBefore = receiver.posts;
    const headers: Record<string, string> = row.target === 'manifest' ? { Accept: MANIFEST_TYPE } : {};
    const { value: load, peakMiB } = await withPeakRss(server.pid, () => loadFor(row.method)(`${server.base}${paths[row.target]}`, headers));
    if (hasExited(server.child)) throw new Error(`${subject} exited during ${row.id}: ${server.stderrTail()}`);
    const m = { row: row.id, server: subject, round, load, peakRssMiB: peakMiB, webhookPosts: receiver.posts - postsBefore, loadAvg1: os.loadavg()[0] ?? NaN };
    process.stderr.write(
      `  round ${round} ${subject.padEnd(12)} ${row.id.padEnd(12)} ${load.rps.toFixed(0).padStart(6)} req/s  p99 ${load.p99Ms.toFixed(2)} ms` +
        `  RSS ${peakMiB} MiB${load.errors ? `  ERRORS ${load.errors}` : ''}${row.notify ? `  webhook POSTs ${m.webhookPosts}` : ''}\n`,
    );
    out.push(m);
  }
  return out;
}

/** `rows` share one notify setting: the server is configured with or without the webhook for all of them. */
export function runRegistry(kind: ServerKind, round: number, rows: RowSpec[], receiver: Receiver): Promise<Measurement[]> {
  const notify = rows[0]?.notify ?? false;
  return withServer(
    { label: kind, dirPrefix: `requests-bench-${kind}-`, stopTimeoutMs: STOP_TIMEOUT_MS },
    (dir) => startRegistry(kind, dir, notify ? receiver.url : null),
    async (server) => {
      const image = await seedImage(server.base);
      const paths = { manifest: `/v2/${REPO}/manifests/${TAG}`, blob: `/v2/${REPO}/blobs/${image.layerDigest}` };
      return measureRows(server, kind, round, rows, receiver, paths);
    },
  );
}

/** The ceiling under both generators: GET (wrk) and HEAD (the Node generator). */
export function runLimit(round: number, receiver: Receiver): Promise<Measurement[]> {
  const rows: RowSpec[] = [
    { id: 'limit-get', title: 'bare node:http GET, 700 B', method: 'GET', target: 'manifest', notify: false },
    { id: 'limit-head', title: 'bare node:http HEAD, 700 B', method: 'HEAD', target: 'manifest', notify: false },
  ];
  return withServer(
    { label: 'node:http', dirPrefix: 'requests-bench-limit-', stopTimeoutMs: STOP_TIMEOUT_MS },
    (dir) => startLimit(dir),
    (server) => measureRows(server, 'limit', round, rows, receiver, { manifest: '/', blob: '/' }),
  );
}
