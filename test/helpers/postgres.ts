import { execFile } from 'node:child_process';
import { chown, mkdir, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { promisify } from 'node:util';
import { freePort } from './child-registry.ts';

const run = promisify(execFile);
const BIN = '/usr/lib/postgresql/15/bin';

/** A PostgreSQL server of the test's own, in a temp dir on a free loopback port. */
export interface TestPostgres {
  /** `postgres://postgres@127.0.0.1:<port>/<db>` (trust auth on loopback). */
  url: string;
  port: number;
  /** Another database on the same server (a test that wants a fresh outbox). */
  createDatabase(name: string): Promise<string>;
  /** Stops the server at once (`-m immediate`) and removes its files. */
  stop(): Promise<void>;
}

/**
 * Starts Debian's PostgreSQL 15 (`initdb` + `pg_ctl`), as FIELD-NOTES says: it refuses to run as
 * root, so as root the data and socket directories go to the `postgres` user and the binaries
 * run through `runuser`. About 2 s from nothing to a server.
 */
export async function startPostgres(database = 'dockyard'): Promise<TestPostgres> {
  const dir = await mkdtemp(path.join(tmpdir(), 'dockyard-pg-'));
  const data = path.join(dir, 'data');
  const sock = path.join(dir, 'sock');
  await mkdir(data);
  await mkdir(sock);
  const asRoot = process.getuid?.() === 0;
  const as = async (cmd: string, args: string[]) => {
    const [file, argv] = asRoot ? ['runuser', ['-u', 'postgres', '--', cmd, ...args]] : [cmd, args];
    return run(file, argv, { timeout: 60_000 });
  };
  if (asRoot) {
    const { stdout } = await run('id', ['-u', 'postgres']);
    const { stdout: gid } = await run('id', ['-g', 'postgres']);
    for (const d of [dir, data, sock]) await chown(d, Number(stdout.trim()), Number(gid.trim()));
  }
  await as(`${BIN}/initdb`, ['-D', data, '-A', 'trust', '-U', 'postgres', '--no-sync']);
  const port = await freePort();
  const log = path.join(sock, 'log');
  const options = `-p ${port} -k ${sock} -c listen_addresses=127.0.0.1 -c fsync=on -c synchronous_commit=on`;
  try {
    await as(`${BIN}/pg_ctl`, ['-D', data, '-o', options, '-l', log, '-w', '-t', '30', 'start']);
  } catch (err) {
    const text = await readFile(log, 'utf8').catch(() => '');
    throw new Error(`PostgreSQL did not start: ${(err as Error).message}\n${text.slice(-2000)}`);
  }
  const createDatabase = async (name: string) => {
    await run(`${BIN}/createdb`, ['-h', '127.0.0.1', '-p', String(port), '-U', 'postgres', name], { timeout: 30_000 });
    return `postgres://postgres@127.0.0.1:${port}/${name}`;
  };
  const url = await createDatabase(database);
  return {
    url,
    port,
    createDatabase,
    async stop() {
      await as(`${BIN}/pg_ctl`, ['-D', data, '-m', 'immediate', '-w', 'stop']).catch(() => undefined);
      await rm(dir, { recursive: true, force: true });
    },
  };
}
