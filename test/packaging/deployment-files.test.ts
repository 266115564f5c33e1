import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import { parse } from 'yaml';
import { probeUrl } from '../../src/cli/health.ts';
import { loadConfig } from '../../src/config/load.ts';
import { SERVER_NODE_FLAGS } from '../../src/node-flags.ts';
import { cleanEnv, runCli } from '../cli/run-cli.ts';
import { writeConfig } from '../helpers/child-registry.ts';
import { Client } from '../helpers/client.ts';
import { startTestRegistry, type TestRegistry } from '../helpers/registry.ts';

// No Docker engine runs here: the files users run are checked by parsing them, and the pieces that
// run outside Docker (the receiver, the health probe, the configs) are run for real.
const file = (name: string) => fileURLToPath(new URL(`../../${name}`, import.meta.url));

interface Service {
  image?: string;
  build?: string;
  command?: string[];
  environment?: Record<string, string>;
  ports?: string[];
  expose?: string[];
  volumes?: string[];
  depends_on?: Record<string, { condition: string }>;
  healthcheck?: { test: string[] };
}
const compose = parse(readFileSync(file('docker-compose.yml'), 'utf8')) as { services: Record<string, Service>; volumes: Record<string, unknown> };
const service = (name: string): Service => compose.services[name] ?? assert.fail(`docker-compose.yml has no "${name}" service`);
/** The `source` of the compose volume mounted at `target` in a service. */
const mountedAt = (s: Service, target: string) => s.volumes?.map((v) => v.split(':')).find((parts) => parts[1] === target)?.[0];

const registryConfigPath = file('deploy/config.yml');
const raw = parse(readFileSync(registryConfigPath, 'utf8')) as {
  storage: { s3: Record<string, string | boolean> };
  notifications: {
    endpoints: { name: string; url: string; jetstream?: { stream: string; subject: string } }[];
    outbox: { postgres: { url: string } };
  };
};
const s3 = raw.storage.s3;

/** The Dockerfile as instructions (continuation lines joined, comments dropped), split into stages. */
function dockerfileStages(): { from: string; instructions: { op: string; args: string }[] }[] {
  const text = readFileSync(file('Dockerfile'), 'utf8').replace(/\\\n\s*/g, ' ');
  const stages: { from: string; instructions: { op: string; args: string }[] }[] = [];
  for (const line of text.split('\n').map((l) => l.trim())) {
    if (line === '' || line.startsWith('#')) continue;
    const [, op = '', args = ''] = /^(\S+)\s+(.*)$/.exec(line) ?? [];
    if (op.toUpperCase() === 'FROM') stages.push({ from: args, instructions: [] });
    else (stages.at(-1) ?? assert.fail(`${op} before any FROM`)).instructions.push({ op: op.toUpperCase(), args });
  }
  return stages;
}
const stages = dockerfileStages();
const final = stages.at(-1)!;
const finalOp = (op: string) => final.instructions.filter((i) => i.op === op).map((i) => i.args);
const healthcheckArgs = (): string[] => JSON.parse(finalOp('HEALTHCHECK')[0]?.replace(/^(--\S+\s+)*CMD\s+/, '') ?? 'null') as string[];

describe('docker-compose.yml: MinIO, a bucket, the registry, a webhook receiver and NATS', () => {
  it('defines exactly the services minio, minio-init, postgres, nats, registry and receiver', () => {
    assert.deepEqual(Object.keys(compose.services).sort(), ['minio', 'minio-init', 'nats', 'postgres', 'receiver', 'registry']);
  });

  it('runs MinIO with its console and a healthcheck, and creates the bucket once MinIO is healthy', () => {
    const minio = service('minio');
    assert.match(minio.image ?? '', /^minio\/minio(:|$)/);
    assert.deepEqual(minio.command, ['server', '/data', '--console-address', ':9001']);
    assert.ok(minio.healthcheck?.test.length, 'minio has a healthcheck');
    const init = service('minio-init');
    assert.match(init.image ?? '', /^minio\/mc(:|$)/);
    assert.deepEqual(init.depends_on, { minio: { condition: 'service_healthy' } });
    assert.equal(init.command?.[0], 'mb');
  });

  it('starts the registry from this repo once the bucket exists, on port 5000, with deploy/config.yml as its config', () => {
    const registry = service('registry');
    assert.equal(registry.build, '.');
    assert.equal(registry.depends_on?.['minio-init']?.condition, 'service_completed_successfully');
    assert.deepEqual(registry.ports, ['5000:5000']);
    const configTarget = registry.environment?.REGISTRY_CONFIGURATION_PATH ?? assert.fail('REGISTRY_CONFIGURATION_PATH');
    assert.equal(mountedAt(registry, configTarget), './deploy/config.yml');
  });

  it('keeps the outbox in the postgres service, with its credentials and database, once it is healthy', () => {
    const postgres = service('postgres');
    assert.match(postgres.image ?? '', /^postgres:1[5-9](\.|$)/);
    const volume = mountedAt(postgres, '/var/lib/postgresql/data') ?? assert.fail('no volume for the data');
    assert.ok(volume in compose.volumes, `"${volume}" is a named volume`);
    assert.equal(postgres.healthcheck?.test[1], 'pg_isready');
    assert.equal(service('registry').depends_on?.postgres?.condition, 'service_healthy');
    const url = new URL(raw.notifications.outbox.postgres.url);
    const env = postgres.environment ?? {};
    assert.equal(url.protocol, 'postgres:');
    assert.equal(url.hostname, 'postgres');
    assert.equal(url.port, '5432');
    assert.ok(postgres.expose?.includes(url.port), 'the postgres service exposes 5432');
    assert.deepEqual([decodeURIComponent(url.username), decodeURIComponent(url.password), url.pathname.slice(1)], [
      env.POSTGRES_USER,
      env.POSTGRES_PASSWORD,
      env.POSTGRES_DB,
    ]);
  });

  it('keeps the registry’s own state (a token key) in a named volume at /app/data', () => {
    const volume = mountedAt(service('registry'), '/app/data') ?? assert.fail('no volume at /app/data');
    assert.ok(volume in compose.volumes, `"${volume}" is a named volume`);
  });

  it('points the registry endpoint at the receiver service and the port it listens on', () => {
    const receiver = service('receiver');
    assert.match(receiver.image ?? '', /^node(:|$)/);
    assert.deepEqual(receiver.command, ['node', '/receiver/receiver.mjs']);
    assert.equal(mountedAt(receiver, '/receiver'), './deploy/receiver');
    const url = new URL(raw.notifications.endpoints[0]?.url ?? assert.fail('no endpoint'));
    assert.equal(url.hostname, 'receiver');
    assert.equal(url.port, receiver.environment?.PORT);
    assert.equal(url.pathname, '/events');
  });

  it('runs NATS with JetStream stored in a named volume, and points the JetStream endpoint at it', () => {
    const nats = service('nats');
    assert.match(nats.image ?? '', /^nats:2\.10(\.|$)/);
    assert.deepEqual(nats.command, ['-js', '-sd', '/data']);
    const volume = mountedAt(nats, '/data') ?? assert.fail('no volume at /data');
    assert.ok(volume in compose.volumes, `"${volume}" is a named volume`);
    assert.equal(service('registry').depends_on?.nats?.condition, 'service_started');
    const endpoint = raw.notifications.endpoints.find((e) => e.jetstream) ?? assert.fail('no JetStream endpoint');
    const url = new URL(endpoint.url);
    assert.equal(url.protocol, 'nats:');
    assert.equal(url.hostname, 'nats');
    assert.equal(url.port, '4222'); // nats-server's default client port; the command sets no -p
    assert.ok(nats.expose?.includes(url.port), `the nats service exposes ${url.port}`);
    assert.deepEqual(endpoint.jetstream, { stream: 'REGISTRY_EVENTS', subject: 'registry.events' });
  });

  it('points the S3 driver at the minio service, on the port MinIO serves S3 on, in the bucket minio-init creates', () => {
    const endpoint = new URL(String(s3.regionendpoint));
    assert.equal(endpoint.hostname, 'minio');
    assert.equal(endpoint.port, '9000'); // MinIO's default API address; the minio command sets no --address
    assert.equal(endpoint.protocol, 'http:');
    assert.equal(s3.secure, false);
    assert.equal(s3.forcepathstyle, true);
    const mc = new URL(service('minio-init').environment?.MC_HOST_minio ?? assert.fail('MC_HOST_minio'));
    assert.equal(mc.host, endpoint.host);
    assert.equal(service('minio-init').command?.at(-1), `minio/${String(s3.bucket)}`);
  });

  it('uses the same credentials in MinIO, in minio-init and in the registry config', () => {
    const { MINIO_ROOT_USER: user, MINIO_ROOT_PASSWORD: password } = service('minio').environment ?? {};
    const mc = new URL(service('minio-init').environment?.MC_HOST_minio ?? '');
    assert.ok(user && password);
    assert.deepEqual([s3.accesskey, s3.secretkey], [user, password]);
    assert.deepEqual([decodeURIComponent(mc.username), decodeURIComponent(mc.password)], [user, password]);
  });

  it('checks the registry health on /readyz with the same probe as the Dockerfile', () => {
    const test = service('registry').healthcheck?.test ?? assert.fail('registry healthcheck');
    assert.equal(test[0], 'CMD');
    assert.deepEqual(test.slice(1), healthcheckArgs());
  });
});

describe('deploy/*.yml: the registry loads them with its own loader', () => {
  it('loads deploy/config.yml (S3, the receiver and JetStream endpoints) without a warning', () => {
    const { config, warnings } = loadConfig(registryConfigPath, service('registry').environment);
    assert.deepEqual(warnings, []);
    assert.equal(config.http.addr, '0.0.0.0:5000');
    assert.equal(config.storage.delete.enabled, true);
    assert.equal(config.notifications.endpoints[0]?.url, 'http://receiver:8080/events');
    assert.deepEqual(config.notifications.endpoints[1]?.jetstream, { stream: 'REGISTRY_EVENTS', subject: 'registry.events', duplicatewindow: 3_600_000 });
    assert.equal(config.notifications.outbox.postgres?.url, raw.notifications.outbox.postgres.url);
    assert.equal(config.notifications.outbox.path, undefined);
    const storage = config.storage as unknown as Record<string, Record<string, unknown> | undefined>;
    assert.equal(storage.s3?.bucket, 'dockyard');
  });

  it('loads the image default config, whose storage root is a volume of the image', () => {
    const source = finalOp('COPY').find((args) => args.endsWith(' /etc/dockyard/config.yml'))?.split(/\s+/)[0] ?? assert.fail('COPY of the config');
    const { config, warnings } = loadConfig(file(source), {});
    assert.deepEqual(warnings, []);
    assert.equal(config.http.addr, '0.0.0.0:5000');
    assert.ok(finalOp('VOLUME').join(' ').includes(`"${config.storage.filesystem.rootdirectory}"`));
  });
});

describe('Dockerfile', () => {
  it('builds in a stage with the lock file and the dev dependencies, then keeps only production ones', () => {
    assert.ok(stages.length >= 2, 'multi-stage');
    assert.ok(stages.every((s) => s.from.startsWith('node:20')));
    const runs = stages[0]!.instructions.filter((i) => i.op === 'RUN').map((i) => i.args).join('\n');
    assert.ok(runs.indexOf('npm ci') < runs.indexOf('npm run build'), 'npm ci, then the build');
    // npm ci runs `prepare`: its script must be in the stage before npm ci runs.
    const copies = stages[0]!.instructions.filter((i) => i.op === 'COPY' || i.op === 'RUN').map((i) => `${i.op} ${i.args}`);
    const ci = copies.findIndex((c) => c.includes('npm ci'));
    assert.ok(copies.slice(0, ci).some((c) => /^COPY .*scripts\/ensure-built\.mjs/.test(c)), 'scripts/ensure-built.mjs is copied before npm ci');
    assert.match(runs, /npm prune --omit=dev/);
    assert.ok(finalOp('COPY').some((args) => /^--from=\S+ \/app\/dist /.test(args)));
    // The test bed's page: src/api/routes/ui.ts serves ../../../ui from dist/api/routes, i.e. /app/ui.
    assert.ok(finalOp('COPY').includes('ui ./ui'), 'the final stage copies ui/');
  });

  it('runs the compiled CLI (node <SERVER_NODE_FLAGS> dist/main.js serve) from /app as a non-root user that owns /app/data, on port 5000', () => {
    assert.deepEqual(finalOp('WORKDIR'), ['/app']);
    const user = finalOp('USER').at(-1) ?? assert.fail('no USER');
    assert.ok(!['root', '0'].includes(user.split(':')[0]!), `USER ${user}`);
    assert.ok(finalOp('RUN').some((r) => new RegExp(`chown ${user}(:\\S+)? .*/app/data`).test(r)), '/app/data chowned to the user');
    // Exec form (no shell in between), so that docker stop's SIGTERM reaches the server.
    assert.deepEqual(JSON.parse(finalOp('ENTRYPOINT').at(-1) ?? 'null'), ['node', ...SERVER_NODE_FLAGS, 'dist/main.js']);
    assert.deepEqual(JSON.parse(finalOp('CMD').at(-1) ?? 'null'), ['serve']);
    assert.deepEqual(finalOp('EXPOSE'), ['5000']);
    assert.ok(final.instructions.findIndex((i) => i.op === 'USER') < final.instructions.findIndex((i) => i.op === 'ENTRYPOINT'));
  });

  it('has a HEALTHCHECK running dockyard health on the image config, which exits 0 on a ready registry and 1 otherwise', async () => {
    assert.deepEqual(healthcheckArgs(), ['node', 'dist/main.js', 'health']);
    // It finds the config as the server does, by the image's REGISTRY_CONFIGURATION_PATH.
    const configPath = /REGISTRY_CONFIGURATION_PATH=(\S+)/.exec(finalOp('ENV').join(' '))?.[1] ?? assert.fail('no REGISTRY_CONFIGURATION_PATH');
    const source = finalOp('COPY').find((args) => args.endsWith(` ${configPath}`))?.split(/\s+/)[0] ?? assert.fail(`no COPY to ${configPath}`);
    assert.equal(probeUrl(loadConfig(file(source), {}).config, '/readyz'), 'http://127.0.0.1:5000/readyz');
    const dir = await mkdtemp(path.join(tmpdir(), 'dockyard-healthcheck-'));
    const probe = async (port: number) => {
      const config = await writeConfig(dir, { http: { addr: `0.0.0.0:${port}` } }, `${port}.yml`);
      const { code } = await runCli(healthcheckArgs().slice(2), 10_000, cleanEnv({ REGISTRY_CONFIGURATION_PATH: config }));
      return code;
    };
    const registry = await startTestRegistry();
    const unready = createServer((_req, res) => res.writeHead(503).end());
    try {
      assert.equal(await probe(registry.port), 0, 'a ready registry');
      await new Promise<void>((resolve) => unready.listen(0, '127.0.0.1', resolve));
      const port = (unready.address() as AddressInfo).port;
      assert.equal(await probe(port), 1, 'a 503');
      unready.close();
      await once(unready, 'close');
      assert.equal(await probe(port), 1, 'nothing listening');
    } finally {
      unready.close();
      await registry.stop();
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('deploy/receiver/receiver.mjs', () => {
  const script = file('deploy/receiver/receiver.mjs');
  let child: ChildProcess;
  let url = '';
  const lines: string[] = [];
  /** Resolves once the receiver has printed `n` lines in all. */
  const linesPrinted = (n: number) =>
    new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`printed only ${JSON.stringify(lines)}`)), 10_000);
      const check = () => lines.length >= n && (clearTimeout(timer), child.stdout!.off('data', check), resolve());
      child.stdout!.on('data', check);
      check();
    });

  before(async () => {
    child = spawn(process.execPath, [script], { env: { ...process.env, HOST: '127.0.0.1', PORT: '0' }, stdio: ['ignore', 'pipe', 'pipe'] });
    let buffered = '';
    child.stdout!.setEncoding('utf8').on('data', (text: string) => {
      buffered += text;
      const parts = buffered.split('\n');
      buffered = parts.pop()!;
      lines.push(...parts);
    });
    // Read stderr with a listener, not an async iterator: leaving one early destroys the pipe.
    let stderr = '';
    child.stderr!.setEncoding('utf8');
    url = await new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`the receiver did not start: ${stderr}`)), 10_000);
      child.stderr!.on('data', (text: string) => {
        stderr += text;
        const listening = /listening on (http:\/\/\S+)/.exec(stderr);
        if (listening) (clearTimeout(timer), resolve(listening[1]!));
      });
    });
    assert.ok(url, `the receiver did not start: ${stderr}`);
  });
  after(async () => {
    if (child.pid !== undefined && child.exitCode === null) {
      process.kill(child.pid, 'SIGTERM');
      await once(child, 'exit');
    }
  });

  it('is valid JavaScript (node --check)', async () => {
    const check = spawn(process.execPath, ['--check', script], { stdio: 'ignore' });
    assert.deepEqual(await once(check, 'exit'), [0, null]);
  });

  it('prints "action repository:tag digest" for each event of an envelope and answers 200', async () => {
    const digest = `sha256:${'ab'.repeat(32)}`;
    const envelope = {
      events: [
        { id: 'e1', action: 'push', target: { mediaType: 'application/vnd.oci.image.manifest.v1+json', digest, repository: 'team/app', tag: 'v1' } },
        { id: 'e2', action: 'delete', target: { repository: 'team/app', tag: 'old' } },
      ],
    };
    const start = lines.length;
    const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/vnd.docker.distribution.events.v1+json' }, body: JSON.stringify(envelope) });
    assert.equal(res.status, 200);
    await linesPrinted(start + 2);
    assert.deepEqual(lines.slice(start, start + 2), [`push team/app:v1 ${digest}`, 'delete team/app:old -']);
  });

  it('answers 400 to a body that is not an envelope, and 404 off /events', async () => {
    assert.equal((await fetch(url, { method: 'POST', body: 'not json' })).status, 400);
    assert.equal((await fetch(new URL('/other', url), { method: 'POST', body: '{"events":[]}' })).status, 404);
  });

  it('prints the events a real registry sends it for a push', async () => {
    let registry: TestRegistry | undefined;
    try {
      registry = await startTestRegistry({ notifications: { endpoints: [{ name: 'receiver', url, timeout: '2s', threshold: 3, backoff: '1s' }] } });
      const start = lines.length;
      const image = await new Client(registry.url).pushImage('team/app', 'v1');
      await linesPrinted(start + 2 + image.layers.length); // the config blob, each layer, the manifest
      assert.ok(lines.slice(start).includes(`push team/app:v1 ${image.digest}`), JSON.stringify(lines.slice(start)));
      assert.ok(lines.slice(start).includes(`push team/app ${image.config.digest}`));
    } finally {
      await registry?.stop();
    }
  });
});

describe('the files the deployment refers to exist', () => {
  it('has every path compose mounts from this repo', () => {
    for (const s of Object.values(compose.services)) {
      for (const source of s.volumes?.map((v) => v.split(':')[0]!) ?? []) {
        if (source.startsWith('./')) assert.ok(existsSync(file(source.slice(2))), source);
      }
    }
  });
});
