import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { makeCertificates } from '../helpers/certificates.ts';
import { freePort } from '../helpers/child-registry.ts';
import { runCli, STACK_LINE, type Finished } from './run-cli.ts';

/** `chattr +i` (root is not stopped by chmod; an immutable directory stops even root). */
function chattr(flag: '+i' | '-i', target: string): void {
  const result = spawnSync('chattr', [flag, target], { encoding: 'utf8' });
  assert.equal(result.status, 0, `chattr ${flag} ${target}: ${result.stderr}`);
}

/** The refusal every case must be: non-zero, one line on stderr saying `cannot start`, no stack. */
function assertOneLineRefusal(run: Finished, says: RegExp): void {
  assert.notEqual(run.code, 0, `exited 0:\n${run.stderr}`);
  assert.equal(run.signal, null);
  const lines = run.stderr.trim().split('\n');
  assert.equal(lines.length, 1, `more than one line on stderr:\n${run.stderr}`);
  assert.match(lines[0]!, /^dockyard: cannot start: /);
  assert.match(lines[0]!, says);
  assert.doesNotMatch(run.stderr + run.stdout, STACK_LINE);
}

describe('dockyard serve refuses to start, in one line', () => {
  let dir: string;
  const immutable: string[] = [];
  before(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'dockyard-refusals-'));
  });
  after(async () => {
    for (const target of immutable) chattr('-i', target);
    await rm(dir, { recursive: true, force: true });
  });

  const config = async (name: string, yaml: string) => {
    const file = path.join(dir, name);
    await writeFile(file, `log:\n  level: warn\nhttp:\n  addr: 127.0.0.1:${await freePort()}\n${yaml}`);
    return file;
  };

  it('when the port is in use (EADDRINUSE)', async () => {
    const taken = createServer();
    taken.listen(0, '127.0.0.1');
    await once(taken, 'listening');
    const { port } = taken.address() as { port: number };
    try {
      const file = path.join(dir, 'port.yml');
      await writeFile(file, `http:\n  addr: 127.0.0.1:${port}\nstorage:\n  filesystem:\n    rootdirectory: ${path.join(dir, 'port-data')}\n`);
      assertOneLineRefusal(await runCli(['serve', file]), new RegExp(`http\\.addr 127\\.0\\.0\\.1:${port}: cannot listen: the port is in use \\(EADDRINUSE\\)`));
    } finally {
      taken.close();
    }
  });

  it('when the storage root is below a file', async () => {
    await writeFile(path.join(dir, 'a-file'), 'not a directory');
    const file = await config('under-file.yml', `storage:\n  filesystem:\n    rootdirectory: ${path.join(dir, 'a-file', 'data')}\n`);
    assertOneLineRefusal(await runCli([file]), /the storage root .*a-file\/data cannot be written: a file is in the way/);
  });

  it('when the storage root cannot be written (immutable, which stops root too)', async () => {
    const root = path.join(dir, 'immutable-root');
    await mkdir(root);
    chattr('+i', root);
    immutable.push(root);
    const file = await config('immutable.yml', `storage:\n  filesystem:\n    rootdirectory: ${root}\n`);
    assertOneLineRefusal(await runCli(['serve', file]), /the storage root .*immutable-root cannot be written: operation not permitted \(EPERM\)/);
  });

  it('when the outbox directory cannot be written', async () => {
    const outboxDir = path.join(dir, 'immutable-outbox');
    await mkdir(outboxDir);
    chattr('+i', outboxDir);
    immutable.push(outboxDir);
    const file = await config(
      'outbox.yml',
      `storage:\n  filesystem:\n    rootdirectory: ${path.join(dir, 'outbox-data')}\nnotifications:\n  outbox:\n    path: ${path.join(outboxDir, 'outbox.sqlite')}\n  endpoints:\n    - name: hook\n      url: http://127.0.0.1:9/events\n`,
    );
    assertOneLineRefusal(await runCli(['serve', file]), /the outbox directory .*immutable-outbox cannot be written/);
  });

  it('when the outbox file cannot be written (an immutable SQLite file)', async () => {
    const root = path.join(dir, 'outbox-file-data');
    const outbox = path.join(root, '_notifications', 'outbox.sqlite');
    await mkdir(path.dirname(outbox), { recursive: true });
    await writeFile(outbox, '');
    chattr('+i', outbox);
    immutable.push(outbox);
    const file = await config(
      'outbox-file.yml',
      `storage:\n  filesystem:\n    rootdirectory: ${root}\nnotifications:\n  endpoints:\n    - name: hook\n      url: http://127.0.0.1:9/events\n`,
    );
    assertOneLineRefusal(await runCli(['serve', file]), /notifications cannot start with the outbox .*outbox\.sqlite: /);
  });

  it('when the TLS certificate does not load (a file that is not PEM, a key of another certificate)', async () => {
    const certs = await makeCertificates(await mkdtemp(path.join(dir, 'certs-')));
    const notPem = path.join(dir, 'not-a-certificate.pem');
    await writeFile(notPem, 'not a certificate\n');
    const tls = (certificate: string, key: string) =>
      `  tls:\n    certificate: ${certificate}\n    key: ${key}\nstorage:\n  filesystem:\n    rootdirectory: ${path.join(dir, 'tls-data')}\n`;
    const [garbled, mismatched] = await Promise.all([
      config('tls-garbled.yml', tls(notPem, certs.serverKey)).then((file) => runCli(['serve', file])),
      config('tls-mismatch.yml', tls(certs.serverCert, certs.strangerKey)).then((file) => runCli(['serve', file])),
    ]);
    assertOneLineRefusal(garbled, /http\.tls\.certificate: .*not-a-certificate\.pem/);
    assertOneLineRefusal(mismatched, /http\.tls/);
  });

  it('when the PostgreSQL outbox cannot be reached', async () => {
    const closed = await freePort();
    const file = await config(
      'postgres.yml',
      `storage:\n  filesystem:\n    rootdirectory: ${path.join(dir, 'pg-data')}\nnotifications:\n  outbox:\n    postgres:\n      url: postgres://dockyard:pw@127.0.0.1:${closed}/dockyard\n      connecttimeout: 2s\n  endpoints:\n    - name: hook\n      url: http://127.0.0.1:9/events\n`,
    );
    assertOneLineRefusal(await runCli(['serve', file]), /the PostgreSQL outbox \(.*\) cannot be reached/);
  });
});
