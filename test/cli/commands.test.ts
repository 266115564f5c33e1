import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { parse } from 'yaml';
import { cleanEnv, ROOT, runCli, STACK_LINE } from './run-cli.ts';

describe('dockyard: the command line', () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'dockyard-cli-'));
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('prints the usage for --help and -h, naming every command, and exits 0', async () => {
    for (const [flag, { code, stdout }] of await Promise.all(['--help', '-h'].map(async (flag) => [flag, await runCli([flag])] as const))) {
      assert.equal(code, 0);
      for (const command of ['serve', 'gc', 'config check', '--version']) assert.ok(stdout.includes(command), `${flag} does not mention ${command}:\n${stdout}`);
    }
  });

  it('prints each command its own usage for --help, without starting anything', async () => {
    const cases: [string[], RegExp][] = [
      [['serve', '--help'], /^Usage: dockyard serve/],
      [['gc', '-h'], /^Usage: dockyard gc[\s\S]*--dry-run[\s\S]*--delete-untagged/],
      [['config', 'check', '--help'], /^Usage: dockyard config check/],
      [['help', 'gc'], /^Usage: dockyard gc/],
    ];
    const runs = await Promise.all(cases.map(([args]) => runCli(args)));
    for (const [i, [args, usage]] of cases.entries()) {
      const { code, stdout } = runs[i]!;
      assert.equal(code, 0, args.join(' '));
      assert.match(stdout, usage);
    }
  });

  it("prints package.json's version for --version", async () => {
    const { version } = JSON.parse(await readFile(path.join(ROOT, 'package.json'), 'utf8')) as { version: string };
    const { code, stdout } = await runCli(['--version']);
    assert.equal(code, 0);
    assert.equal(stdout, `dockyard ${version}\n`);
  });

  it('refuses an unknown command or option with one line naming it and exit 2', async () => {
    const cases = [[['frobnicate'], 'frobnicate'], [['serve', '--frob'], '--frob'], [['config', 'lint'], 'config lint']] as const;
    const runs = await Promise.all(cases.map(([args]) => runCli([...args])));
    for (const [i, [args, named]] of cases.entries()) {
      const { code, stderr, stdout } = runs[i]!;
      assert.equal(code, 2, args.join(' '));
      assert.equal(stderr.trim().split('\n').length, 1, stderr);
      assert.ok(stderr.includes(named), stderr);
      assert.equal(stdout, '');
    }
  });

  it('config check prints the effective configuration with every secret masked, exit 0', async () => {
    const config = path.join(dir, 'secrets.yml');
    const secrets = ['pgpass-1234', 'urlpass-5678', 'bearer-abcd', 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw', 'S3SECRETKEY', 'S3ACCESSKEY'];
    await writeFile(
      config,
      [
        'http:',
        '  addr: 127.0.0.1:5999',
        'storage:',
        '  s3:',
        '    bucket: b',
        '    region: us-east-1',
        '    accesskey: S3ACCESSKEY',
        '    secretkey: S3SECRETKEY',
        'notifications:',
        '  outbox:',
        '    postgres:',
        '      url: postgres://dockyard:pgpass-1234@db:5432/dockyard',
        '  endpoints:',
        '    - name: hook',
        '      url: https://hooks:urlpass-5678@example.com/events',
        '      headers:',
        '        Authorization: [Bearer bearer-abcd]',
        '        X-Team: platform',
        '      secret: whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw',
        '',
      ].join('\n'),
    );
    const { code, stdout, stderr } = await runCli(['config', 'check', config]);
    assert.equal(code, 0, stderr);
    for (const secret of secrets) assert.ok(!stdout.includes(secret), `${secret} printed:\n${stdout}`);
    const printed = parse(stdout) as {
      http: { addr: string; draintimeout: number };
      storage: { s3: { bucket: string; secretkey: string } };
      notifications: { outbox: { postgres: { url: string } }; endpoints: { url: string; headers: Record<string, string[]> }[] };
    };
    assert.equal(printed.http.addr, '127.0.0.1:5999');
    assert.equal(printed.http.draintimeout, 10_000, 'defaults filled in');
    assert.equal(printed.storage.s3.bucket, 'b');
    assert.equal(printed.storage.s3.secretkey, '*****');
    assert.equal(printed.notifications.outbox.postgres.url, 'postgres://dockyard:*****@db:5432/dockyard');
    assert.equal(printed.notifications.endpoints[0]?.url, 'https://hooks:*****@example.com/events');
    assert.deepEqual(printed.notifications.endpoints[0]?.headers, { Authorization: ['*****'], 'X-Team': 'platform' });

    const json = await runCli(['config', 'check', '--format', 'json'], 30_000, cleanEnv({ REGISTRY_CONFIGURATION_PATH: config }));
    assert.equal(json.code, 0, json.stderr);
    assert.equal((JSON.parse(json.stdout) as { storage: { s3: { accesskey: string } } }).storage.s3.accesskey, '*****');
  });

  it('config check refuses an invalid configuration with one line naming each key, exit 2', async () => {
    const config = path.join(dir, 'invalid.yml');
    await writeFile(config, 'bogus: 1\nhttp:\n  addr: not-an-address\n');
    const { code, stdout, stderr } = await runCli(['config', 'check', config]);
    assert.equal(code, 2);
    assert.equal(stdout, '');
    assert.equal(stderr.trim().split('\n').length, 1, stderr);
    assert.match(stderr, /"bogus"/);
    assert.match(stderr, /"http\.addr"/);
    assert.doesNotMatch(stderr, STACK_LINE);
  });
});
