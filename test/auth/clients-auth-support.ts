import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { closeSync, openSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import * as path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { pino } from 'pino';
import { parseConfig } from '../../src/config/load.ts';
import { startRegistry, type RunningRegistry } from '../../src/server.ts';
import { WebhookReceiver } from '../helpers/receiver.ts';
import { endpoint } from '../notify/support.ts';
import { makeUsers, removeUsers, tokenServiceAuth, type Users } from './service-support.ts';

/**
 * Pieces of the podman and containerd tests: a token-service registry whose request log is kept
 * (to see which form of /auth/token a client used), and the two clients with every piece of their
 * state in a temp directory.
 */

/** One `request` line of the registry's log. */
export interface RequestLine {
  method: string;
  url: string;
  status: number;
}

export interface LoggedRegistry {
  readonly registry: RunningRegistry;
  readonly receiver: WebhookReceiver;
  readonly users: Users;
  /** Every request the registry logged so far, in the order their responses finished. */
  requests(): RequestLine[];
  stop(): Promise<void>;
}

/** The built-in token service (alice: team/** push; bob: team/* pull), a receiver, and a log kept in memory. */
export async function startLoggedRegistry(): Promise<LoggedRegistry> {
  const users = await makeUsers();
  const receiver = await WebhookReceiver.start();
  const lines: string[] = [];
  try {
    const { config } = parseConfig({
      http: { addr: '127.0.0.1:0' },
      storage: { filesystem: { rootdirectory: users.storage } },
      auth: tokenServiceAuth(users.htpasswd),
      notifications: { endpoints: [endpoint(receiver)] },
    });
    const registry = await startRegistry(config, pino({ level: 'info' }, { write: (line: string) => void lines.push(line) }));
    return {
      registry,
      receiver,
      users,
      // The access log's lines: those with a handler (src/api/request-log.ts).
      requests: () => lines.map((l) => JSON.parse(l) as RequestLine & { handler?: string }).filter((l) => l.handler !== undefined),
      async stop() {
        await registry.close();
        await receiver.close();
        await removeUsers(users);
      },
    };
  } catch (err) {
    await receiver.close();
    await removeUsers(users);
    throw err;
  }
}

/** Runs a command; resolves with stdout, rejects with its stderr (and stdout) in the message. */
export function runTool(cmd: string, args: string[], env: NodeJS.ProcessEnv, timeout = 120_000): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(cmd, args, { env, timeout, killSignal: 'SIGKILL', maxBuffer: 32 << 20 }, (err, stdout, stderr) => {
      if (process.env.DOCKYARD_E2E_DEBUG) process.stderr.write(stderr);
      if (err) reject(new Error(`${cmd} ${args.join(' ')} failed: ${err.message}\nstdout: ${stdout.slice(-2000)}\nstderr: ${stderr.slice(-6000)}`));
      else resolve(stdout);
    });
  });
}

/** Awaits a client run that must fail; returns its error text. */
export async function failure(run: Promise<string>): Promise<string> {
  let out: string;
  try {
    out = await run;
  } catch (err) {
    return String(err);
  }
  throw new Error(`the client succeeded where it must fail: ${out.slice(0, 500)}`);
}

function baseEnv(dir: string): NodeJS.ProcessEnv {
  return {
    PATH: process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin',
    HOME: path.join(dir, 'home'),
    XDG_CONFIG_HOME: path.join(dir, 'config'),
    XDG_DATA_HOME: path.join(dir, 'data'),
    XDG_RUNTIME_DIR: path.join(dir, 'runtime'),
    TMPDIR: path.join(dir, 'tmp'),
  };
}

async function makeDirs(dir: string, names: string[]): Promise<void> {
  for (const d of names) await mkdir(path.join(dir, d), { recursive: true, mode: 0o700 });
}

/**
 * podman as root with its storage (vfs), run root, temp dir, locks (file locks, not /dev/shm),
 * configuration files and auth files in `dir`; the registry at `host` is marked insecure.
 * (As root, containers/image keeps its blob-info cache in /var/lib/containers/cache whatever the
 * flags say, which is why pushes here use fresh random layers.)
 */
export class Podman {
  private constructor(private readonly dir: string, private readonly env: NodeJS.ProcessEnv) {}

  static async create(dir: string, host: string): Promise<Podman> {
    await makeDirs(dir, ['home', 'config', 'data', 'runtime', 'tmp', 'root', 'runroot', 'auth', 'networks']);
    const file = (name: string) => path.join(dir, name);
    await writeFile(file('registries.conf'), `unqualified-search-registries = []\n\n[[registry]]\nlocation = "${host}"\ninsecure = true\n`);
    await writeFile(file('storage.conf'), `[storage]\ndriver = "vfs"\ngraphroot = "${file('root')}"\nrunroot = "${file('runroot')}"\n`);
    await writeFile(file('containers.conf'), [
      '[engine]', 'lock_type = "file"', 'events_logger = "none"', `tmp_dir = "${file('tmp')}"`,
      '[network]', `network_config_dir = "${file('networks')}"`, '',
    ].join('\n'));
    await writeFile(file('policy.json'), JSON.stringify({ default: [{ type: 'insecureAcceptAnything' }] }));
    await writeFile(file('auth/default.json'), JSON.stringify({ auths: {} }));
    return new Podman(dir, {
      ...baseEnv(dir),
      REGISTRY_AUTH_FILE: file('auth/default.json'),
      CONTAINERS_REGISTRIES_CONF: file('registries.conf'),
      CONTAINERS_STORAGE_CONF: file('storage.conf'),
      CONTAINERS_CONF: file('containers.conf'),
    });
  }

  /** The auth file `podman login --authfile` writes for `user`. */
  authfile(user: string): string {
    return path.join(this.dir, 'auth', `${user}.json`);
  }

  get policy(): string {
    return path.join(this.dir, 'policy.json');
  }

  run(...args: string[]): Promise<string> {
    const global = ['--root', path.join(this.dir, 'root'), '--runroot', path.join(this.dir, 'runroot'), '--storage-driver', 'vfs', '--tmpdir', path.join(this.dir, 'tmp')];
    if (process.env.DOCKYARD_E2E_DEBUG) global.push('--log-level=debug');
    return runTool('podman', [...global, ...args], this.env);
  }
}

/**
 * A containerd daemon of our own: root, state, opt directory, config and socket in `dir`, started
 * by hand and stopped by its pid. Its log (debug level) is `dir/containerd.log`.
 */
export class Containerd {
  private constructor(private readonly dir: string, private readonly proc: ChildProcess, private readonly env: NodeJS.ProcessEnv) {}

  get socket(): string {
    return path.join(this.dir, 'containerd.sock');
  }

  get logFile(): string {
    return path.join(this.dir, 'containerd.log');
  }

  static async start(dir: string): Promise<Containerd> {
    await makeDirs(dir, ['home', 'config', 'data', 'runtime', 'tmp', 'root', 'state', 'opt']);
    const config = path.join(dir, 'config.toml');
    await writeFile(config, [
      'version = 2',
      'disabled_plugins = ["io.containerd.grpc.v1.cri"]',
      '[plugins."io.containerd.internal.v1.opt"]',
      `  path = "${path.join(dir, 'opt')}"`,
      '',
    ].join('\n'));
    const env = baseEnv(dir);
    const log = openSync(path.join(dir, 'containerd.log'), 'a');
    const sock = path.join(dir, 'containerd.sock');
    const proc = spawn('containerd', ['--config', config, '--root', path.join(dir, 'root'), '--state', path.join(dir, 'state'), '--address', sock, '--log-level', 'debug'], {
      env,
      stdio: ['ignore', log, log],
    });
    closeSync(log);
    const daemon = new Containerd(dir, proc, env);
    const deadline = Date.now() + 30_000;
    for (;;) {
      if (proc.exitCode !== null || proc.signalCode !== null) throw new Error(`containerd exited at start:\n${(await readFile(daemon.logFile, 'utf8')).slice(-3000)}`);
      try {
        await daemon.ctr('version');
        return daemon;
      } catch (err) {
        if (Date.now() > deadline) {
          await daemon.stop();
          throw new Error(`containerd did not answer \`ctr version\` within 30 s: ${String(err)}`);
        }
        await sleep(100);
      }
    }
  }

  /** `ctr --address <our socket> <args>`. */
  ctr(...args: string[]): Promise<string> {
    const global = ['--address', this.socket];
    if (process.env.DOCKYARD_E2E_DEBUG) global.push('--debug');
    return runTool('ctr', [...global, ...args], this.env);
  }

  /** SIGTERM to our daemon's pid, SIGKILL after 10 s. */
  async stop(): Promise<void> {
    if (this.proc.exitCode !== null || this.proc.signalCode !== null) return;
    const exited = once(this.proc, 'exit');
    this.proc.kill('SIGTERM');
    const timer = setTimeout(() => this.proc.kill('SIGKILL'), 10_000);
    await exited;
    clearTimeout(timer);
  }
}
