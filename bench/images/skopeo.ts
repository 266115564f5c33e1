/**
 * The big image's push and pull with skopeo, each one bounded `skopeo copy`, timed wall to wall.
 * Push uses --preserve-digests: without it skopeo gzips every uncompressed layer on its way to a
 * docker:// destination (and pushes different blobs), which measures skopeo's compressor on these
 * 2 cores, not the registry.
 */
import { execFile } from 'node:child_process';
import { SKOPEO_TIMEOUT_MS } from './settings.ts';

function skopeo(args: string[]): Promise<number> {
  const started = process.hrtime.bigint();
  return new Promise((resolve, reject) => {
    execFile('skopeo', args, { timeout: SKOPEO_TIMEOUT_MS, killSignal: 'SIGKILL', maxBuffer: 1 << 20 }, (err, _stdout, stderr) => {
      if (err) reject(new Error(`skopeo ${args.join(' ')} failed: ${err.message}\n${stderr}`));
      else resolve(Number(process.hrtime.bigint() - started) / 1e9);
    });
  });
}

export function skopeoVersion(): Promise<string> {
  return new Promise((resolve) => {
    execFile('skopeo', ['--version'], { timeout: 10_000 }, (err, stdout) => resolve(err ? `unavailable (${err.message.split('\n')[0]})` : stdout.trim()));
  });
}

/** Seconds to copy `oci:<layoutDir>:<tag>` to `<hostPort>/<repo>:<tag>`. */
export function skopeoPush(layoutDir: string, tag: string, hostPort: string, repo: string): Promise<number> {
  return skopeo(['copy', '--quiet', '--dest-tls-verify=false', '--preserve-digests', `oci:${layoutDir}:${tag}`, `docker://${hostPort}/${repo}:${tag}`]);
}

/** Seconds to copy `<hostPort>/<repo>:<tag>` into `dir:<destDir>` (a fresh directory). */
export function skopeoPull(hostPort: string, repo: string, tag: string, destDir: string): Promise<number> {
  return skopeo(['copy', '--quiet', '--src-tls-verify=false', `docker://${hostPort}/${repo}:${tag}`, `dir:${destDir}`]);
}
