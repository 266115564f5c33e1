/** One server's turn at a workload: a fresh process on a fresh root, the workload timed, peak RSS. */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readFile, stat } from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import { hasExited, withServer } from '../lib/processes.ts';
import { pushSmallImages } from './http-push.ts';
import type { BigImage } from './layout.ts';
import { withPeakRss } from '../lib/rss.ts';
import { startRegistry, type Started } from './servers.ts';
import { BIG_REPO, MANIFEST_TYPE, SMALL_REPO, STOP_TIMEOUT_MS, type ServerKind, type Workload } from './settings.ts';
import type { SmallImage } from './small-images.ts';
import { skopeoPull, skopeoPush } from './skopeo.ts';
import { makeTempDir, removeTempDir } from './temp-dirs.ts';

export interface Measurement {
  workload: Workload;
  server: ServerKind;
  round: number;
  seconds: number;
  /** MB/s (10^6 bytes) for push and pull, images/s for the small-image rows. */
  rate: number;
  peakRssMiB: number;
  loadAvg1: number;
}

function measured(workload: Workload, server: Started, kind: ServerKind, round: number, seconds: number, rate: number, peakRssMiB: number): Measurement {
  if (hasExited(server.child)) throw new Error(`${kind} exited during ${workload}: ${server.stderrTail()}`);
  const unit = workload === 'push' || workload === 'pull' ? 'MB/s' : 'images/s';
  process.stderr.write(`  round ${round} ${kind.padEnd(12)} ${workload.padEnd(16)} ${rate.toFixed(1).padStart(8)} ${unit.padEnd(8)} ${seconds.toFixed(2)} s  RSS ${peakRssMiB} MiB\n`);
  return { workload, server: kind, round, seconds, rate, peakRssMiB, loadAvg1: os.loadavg()[0] ?? NaN };
}

/**
 * Writes the earlier rows left in the page cache (gigabytes after a skopeo row, and the removal of
 * their roots) go to the disk before the next row starts, not during it: a server that fsyncs
 * would otherwise wait behind another row's writeback, one that does not would not notice.
 */
function flushEarlierWrites(): void {
  execFileSync('sync', { stdio: 'ignore', timeout: 120_000 });
}

/** The pulled `dir:` copy has the manifest we pushed and every layer at its size. */
async function checkPulled(destDir: string, image: BigImage): Promise<void> {
  const manifest = await readFile(path.join(destDir, 'manifest.json'));
  const digest = `sha256:${createHash('sha256').update(manifest).digest('hex')}`;
  if (digest !== image.manifest.digest) throw new Error(`pulled manifest ${digest}, pushed ${image.manifest.digest}`);
  for (const layer of image.layers) {
    const s = await stat(path.join(destDir, layer.digest.slice('sha256:'.length)));
    if (s.size !== layer.size) throw new Error(`pulled layer ${layer.digest}: ${s.size} bytes, expected ${layer.size}`);
  }
}

/** Push the big image with skopeo, then pull it into a fresh `dir:` destination, from one server. */
export function runBigImage(kind: ServerKind, round: number, image: BigImage): Promise<Measurement[]> {
  return withServer(
    { label: kind, dirPrefix: `images-bench-${kind}-`, stopTimeoutMs: STOP_TIMEOUT_MS },
    (dir) => startRegistry(kind, dir),
    async (server) => {
      flushEarlierWrites();
      const push = await withPeakRss(server.pid, () => skopeoPush(image.dir, image.tag, server.hostPort, BIG_REPO));
      const out = [measured('push', server, kind, round, push.value, image.totalBytes / 1e6 / push.value, push.peakMiB)];
      const dest = await makeTempDir(`images-bench-pull-${kind}-`);
      try {
        flushEarlierWrites();
        const pull = await withPeakRss(server.pid, () => skopeoPull(server.hostPort, BIG_REPO, image.tag, dest));
        await checkPulled(dest, image);
        out.push(measured('pull', server, kind, round, pull.value, image.totalBytes / 1e6 / pull.value, pull.peakMiB));
      } finally {
        await removeTempDir(dest);
      }
      return out;
    },
  );
}

/** Push every small image with `clients` concurrent clients into one fresh server. */
export function runSmallImages(kind: ServerKind, round: number, images: SmallImage[], clients: number): Promise<Measurement> {
  const workload: Workload = clients === 1 ? 'small-seq' : 'small-concurrent';
  // The root (some 13,000 files and directories) stays until the whole run ends: its removal
  // would slow the next server's file creation (withServer's keepDir).
  return withServer(
    { label: kind, dirPrefix: `images-bench-${kind}-`, stopTimeoutMs: STOP_TIMEOUT_MS, keepDir: true },
    (dir) => startRegistry(kind, dir),
    async (server) => {
      flushEarlierWrites();
      const { value: seconds, peakMiB } = await withPeakRss(server.pid, () => pushSmallImages(server.base, images, clients));
      const last = images[images.length - 1];
      if (last) {
        const res = await fetch(`${server.base}/v2/${SMALL_REPO}/manifests/${last.tag}`, { headers: { accept: MANIFEST_TYPE } });
        const body = Buffer.from(await res.arrayBuffer());
        if (res.status !== 200 || !body.equals(last.manifest)) throw new Error(`small image ${last.tag} read back: ${res.status}, ${body.length} bytes`);
      }
      return measured(workload, server, kind, round, seconds, images.length / seconds, peakMiB);
    },
  );
}
