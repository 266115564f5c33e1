/** The BENCHMARKS.md section: command, date, machine, versions, what it does, the table, the goals. */
import { putSection } from '../lib/section.ts';
import { r1 } from '../lib/stats.ts';
import type { Sizes } from './settings.ts';
import type { Summary } from './summary.ts';

export const SECTION = '## Image push and pull (skopeo), small-image pushes';

export interface RunFacts {
  date: string;
  machine: { nproc: number; cpu: string; memTotalBytes: number; node: string; kernel: string; distribution: string };
  skopeo: string;
  dockyardCommit: string;
  loadAtStart: number[];
  sizes: Sizes;
}

const MB = 1e6;
const verdict = (ok: boolean) => (ok ? 'met' : 'not met');

function goals(s: Summary): string[] {
  const by = (w: string) => s.rows.find((r) => r.workload === w);
  const push = by('push');
  const pull = by('pull');
  const small = s.rows.filter((r) => r.workload.startsWith('small'));
  const peak = Math.max(...s.rows.map((r) => r.d.maxRssMiB));
  const peakMB = r1((peak * 2 ** 20) / MB);
  return [
    "Against issue 12's goals:",
    '',
    `- push and pull >= 1.0x Distribution: ${verdict((push?.ratio ?? 0) >= 1 && (pull?.ratio ?? 0) >= 1)} (push ${push?.ratio}x, pull ${pull?.ratio}x).`,
    `- push within 70% of the lower of sha256 and disk-with-fsync (${s.pushCeiling} MB/s): ${verdict(s.pushOfCeiling.dockyard >= 70)} (Dockyard ${s.pushOfCeiling.dockyard}%, Distribution ${s.pushOfCeiling.distribution}%).`,
    `- small-image pushes >= 2x Distribution: ${verdict(small.every((r) => r.ratio >= 2))} (${small.map((r) => `${r.workload} ${r.ratio}x`).join(', ')}).`,
    `- peak RSS < 150 MB: ${verdict(peakMB < 150)} (Dockyard's highest sample in any workload and round: ${peak} MiB = ${peakMB} MB).`,
  ];
}

function sectionText(s: Summary, f: RunFacts): string {
  const m = f.machine;
  const z = f.sizes;
  return [
    SECTION,
    '',
    'Command (from the repository root):',
    '',
    '```',
    'npx tsx bench/images.ts',
    '```',
    '',
    `Date: ${f.date}. Machine: ${m.nproc} cores (${m.cpu}), ${r1(m.memTotalBytes / 2 ** 30)} GiB memory, kernel ${m.kernel}.`,
    `Versions: node ${m.node}; Distribution: ${m.distribution}; ${f.skopeo}; Dockyard at ${f.dockyardCommit}.`,
    `1-minute load average at start: ${f.loadAtStart[0]?.toFixed(2)}.`,
    '',
    'What it does: builds Dockyard and runs `node dist/main.js serve <config>` and `docker-registry serve <config>` from the',
    'same config shape (filesystem storage on the same disk, each on its own empty root, log level error, access log off,',
    `no notifications), in alternation (order flipped each round), ${z.rounds} round${z.rounds === 1 ? '' : 's'}, medians. Once per run it writes an OCI`,
    `layout of ${z.layers} layers of ${z.layerMib} MiB (one-file tars of pseudo-random, incompressible bytes, uncompressed tar media type).`,
    'Push: `skopeo copy --dest-tls-verify=false --preserve-digests oci:DIR:v1 docker://127.0.0.1:PORT/bench/big:v1` (without',
    '--preserve-digests skopeo gzips uncompressed layers for a docker:// destination, which measures its compressor); pull:',
    '`skopeo copy --src-tls-verify=false` from the same server into a fresh `dir:`, checked by manifest digest and layer sizes.',
    'MB/s = image bytes (layers, config, manifest; 10^6 bytes per MB) / wall time of the skopeo process. Small images:',
    `${z.smallImages} distinct images (a 1 KiB layer, a config, an OCI manifest), each POST upload + PUT ?digest= per blob, then PUT`,
    `manifest by tag, over keep-alive undici connections, 1 client and ${z.pushClients} clients, each row into a fresh server.`,
    'Before each timed workload the bench runs `sync`, so the writes of earlier rows are on the disk, not in its way, and',
    "the small-image rows' roots are removed only when the run ends: removing one (some 13,000 entries) slowed the next",
    "server's file creation for a while (ext4 here: 28 µs per new file before such a removal, 439 µs five seconds after).",
    'Peak RSS: VmRSS of the server sampled every 100 ms during the workload. The limit rows are measured once, in the',
    'directory the servers store in (`.bench/tmp`, not /tmp: see bench/lib/env.ts). Client and server share the 2 cores:',
    'read the ratios first.',
    '',
    s.table,
    '',
    ...goals(s),
    '',
  ].join('\n');
}

/** Replaces (or appends) this benchmark's own section of BENCHMARKS.md; returns the file's path. */
export function writeSection(s: Summary, facts: RunFacts): string {
  const body = sectionText(s, facts);
  return putSection(SECTION, body.slice(SECTION.length));
}
