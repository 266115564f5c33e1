/** The two servers under test: building and spawning Dockyard, configuring and spawning Distribution. */
import { execFileSync } from 'node:child_process';
import { SERVER_NODE_FLAGS } from '../../src/node-flags.ts';
import { DISTRIBUTION_BIN, ROOT } from './env.ts';
import { cleanEnv, spawnServer, type ServerProcess } from './processes.ts';

/** `npm run build`: the compiled dist/main.js is what `npm start` runs. */
export function buildDockyard(): void {
  execFileSync('npm', ['run', 'build', '--silent'], { cwd: ROOT, stdio: 'inherit' });
}

/**
 * A registry config.yml (read by Distribution, and by Dockyard when given one): errors-only log
 * (and no access log if asked), `addr`, filesystem storage under `storage` with the in-memory
 * descriptor cache and without upload purging, then `extra` lines.
 */
export function registryConfigYaml(opts: { addr: string; storage: string; disableAccessLog: boolean; extra?: string[] }): string {
  return [
    'version: 0.1',
    'log:',
    '  level: error',
    ...(opts.disableAccessLog ? ['  accesslog:', '    disabled: true'] : []),
    'http:',
    `  addr: ${opts.addr}`,
    'storage:',
    '  filesystem:',
    `    rootdirectory: ${JSON.stringify(opts.storage)}`,
    // Distribution's descriptor cache, as its packaged config.yml has it (Dockyard's is always on).
    '  cache:',
    '    blobdescriptor: inmemory',
    '  maintenance:',
    '    uploadpurging:',
    '      enabled: false',
    ...(opts.extra ?? []),
    '',
  ].join('\n');
}

/**
 * One webhook endpoint (`bench`, to `receiverUrl`) in the config format both servers read:
 * Distribution requires timeout, threshold and backoff. `extra`: more lines of that endpoint.
 */
export function webhookEndpointLines(receiverUrl: string, extra: string[] = []): string[] {
  return ['notifications:', '  endpoints:', '    - name: bench', `      url: ${receiverUrl}`, '      timeout: 1s', '      threshold: 5', '      backoff: 1s', ...extra];
}

/**
 * Dockyard under node directly (no npm/npx/tsx wrapper), so the child's pid is the server itself
 * and a signal to it reaches the server. `args` are node's arguments (flags, entry, config path),
 * after the V8 flags every launch of the server carries (src/node-flags.ts), as `npm start` runs it.
 */
export function spawnDockyard(label: string, args: string[], env: NodeJS.ProcessEnv = {}): ServerProcess {
  return spawnServer(label, process.execPath, [...SERVER_NODE_FLAGS, ...args], { cwd: ROOT, env: { ...cleanEnv(), ...env } });
}

/** `docker-registry serve <configPath>`, run in `dir`. */
export function spawnDistribution(label: string, configPath: string, dir: string): ServerProcess {
  return spawnServer(label, DISTRIBUTION_BIN, ['serve', configPath], { cwd: dir, env: cleanEnv() });
}
