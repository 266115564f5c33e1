import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { loadConfig, parseConfig } from '../../src/config/load.ts';
import { manifestCacheOptions } from '../../src/config/storage.ts';
import { DEFAULT_MANIFEST_CACHE } from '../../src/storage/manifest-cache.ts';
import { configError } from '../helpers/config-error.ts';

const HOUR = 3_600_000;

describe('configuration: parseConfig', () => {
  it('applies Distribution-like defaults to an empty configuration', () => {
    const { config, warnings } = parseConfig({});
    assert.equal(config.http.addr, '127.0.0.1:5000');
    assert.equal(config.http.host, undefined);
    assert.equal(config.storage.filesystem.rootdirectory, './data');
    assert.equal(config.storage.delete.enabled, true);
    assert.equal(config.log.level, 'info');
    assert.equal(config.storage.maintenance.uploadpurging.enabled, true);
    assert.equal(config.storage.maintenance.uploadpurging.age, 168 * HOUR);
    assert.equal(config.storage.maintenance.uploadpurging.interval, 24 * HOUR);
    assert.equal(config.storage.maintenance.uploadpurging.dryrun, false);
    assert.deepEqual(warnings, []);
  });

  it('parses Go-style durations into milliseconds', () => {
    const cases: [string | number, number][] = [['1h30m', 90 * 60_000], ['500ms', 500], ['1.5h', 1.5 * HOUR], ['2h45m30s', 2 * HOUR + 45 * 60_000 + 30_000], ['0', 0], [1_000_000_000, 1000]];
    for (const [age, ms] of cases) {
      const { config } = parseConfig({ storage: { maintenance: { uploadpurging: { age } } } });
      assert.equal(config.storage.maintenance.uploadpurging.age, ms, String(age));
    }
  });

  it('does not modify the tree it is given', () => {
    const raw = { http: { addr: ':1234', secret: 'x' } };
    parseConfig(raw, { REGISTRY_HTTP_ADDR: ':5678' });
    assert.deepEqual(raw, { http: { addr: ':1234', secret: 'x' } });
  });

  it('accepts known but unimplemented tuning keys with a warning naming each', () => {
    const { config, warnings } = parseConfig({
      loglevel: 'info',
      http: { addr: ':5000', secret: 'a-secret', relativeurls: true },
      storage: { filesystem: { rootdirectory: '/r', maxthreads: 100 } },
      health: { storagedriver: { enabled: true }, file: [{ file: '/drain', interval: '10s' }] },
      redis: { addr: 'localhost:6379' },
    });
    for (const key of ['loglevel', 'http.secret', 'http.relativeurls', 'storage.filesystem.maxthreads', 'health.file', 'redis']) {
      assert.ok(warnings.some((w) => w.includes(`"${key}"`)), `no warning names "${key}": ${JSON.stringify(warnings)}`);
    }
    assert.equal(warnings.length, 6);
    assert.equal(config.http.addr, ':5000');
    assert.equal(config.storage.filesystem.rootdirectory, '/r');
  });

  it('refuses every security or storage key it does not implement, naming each, instead of ignoring it', () => {
    const cases: [Record<string, unknown>, string][] = [
      [{ auth: { silly: { realm: 'r', service: 's' } } }, 'auth.silly'],
      [{ http: { tls: { certificate: '/c', key: '/k', letsencrypt: { cachefile: '/le', email: 'a@example.com' } } } }, 'http.tls.letsencrypt'],
      [{ http: { prefix: '/registry' } }, 'http.prefix'],
      [{ proxy: { remoteurl: 'https://registry-1.docker.io' } }, 'proxy'],
      [{ storage: { s3: { bucket: 'b', region: 'r', objectacl: 'public-read' } } }, 'storage.s3.objectacl'],
      [{ middleware: { storage: [{ name: 'cloudfront' }] } }, 'middleware'],
      [{ validation: { manifests: { urls: { allow: ['^https://'] } } } }, 'validation'],
    ];
    for (const [raw, key] of cases) {
      assert.match(configError(() => parseConfig(raw)), new RegExp(`"${key.replaceAll('.', '\\.')}"`), JSON.stringify(raw));
    }
    // From the environment too: a variable cannot slip a refused key past the check.
    assert.match(configError(() => parseConfig({}, { REGISTRY_HTTP_TLS_CERTIFICATE: '/c', REGISTRY_HTTP_TLS_KEY: '/k', REGISTRY_HTTP_TLS_LETSENCRYPT_EMAIL: 'a@example.com' })), /"http\.tls\.letsencrypt"/);
    // An auth kind that does not exist at all is an unknown key.
    assert.match(configError(() => parseConfig({ auth: { keystone: {} } })), /"auth\.keystone"/);
    // http.net: only tcp.
    assert.match(configError(() => parseConfig({ http: { net: 'unix', addr: '/run/registry.sock' } })), /http\.net/);
  });

  it('reads storage.s3 as the S3 driver, and stops the start for an S3 key it does not implement, naming it', () => {
    const { config } = parseConfig({ storage: { s3: { bucket: 'b', region: 'eu-west-1', chunksize: 6 * 1024 * 1024 } } });
    assert.equal(config.storage.s3?.bucket, 'b');
    assert.equal(config.storage.s3?.chunksize, 6 * 1024 * 1024);
    for (const key of ['useragent', 'usedualstack', 'accelerate', 'multipartcopymaxconcurrency', 'loglevel']) {
      assert.match(configError(() => parseConfig({ storage: { s3: { bucket: 'b', region: 'r', [key]: 'x' } } })), new RegExp(`"storage\\.s3\\.${key}"`));
    }
    assert.match(configError(() => parseConfig({}, { REGISTRY_STORAGE_S3_BUCKET: 'b', REGISTRY_STORAGE_S3_REGION: 'r', REGISTRY_STORAGE_S3_USERAGENT: 'x' })), /"storage\.s3\.useragent"/);
    assert.match(configError(() => parseConfig({ storage: { s3: { bucket: 'b', region: 'r', v4auth: false } } })), /storage\.s3\.v4auth/);
    assert.match(configError(() => parseConfig({ storage: { s3: { bucket: 'b', region: 'r', chunksize: 1024 } } })), /storage\.s3\.chunksize/);
    assert.match(configError(() => parseConfig({ storage: { s3: { bucket: 'b' } } })), /storage\.s3\.region/);
    assert.match(configError(() => parseConfig({ storage: { s3: { region: 'r' } } })), /storage\.s3\.bucket/);
  });

  it('refuses both storage.filesystem and storage.s3', () => {
    assert.match(configError(() => parseConfig({ storage: { filesystem: { rootdirectory: '/r' }, s3: { bucket: 'b', region: 'r' } } })), /exactly one storage driver/);
  });

  it('refuses an unknown key, naming it', () => {
    assert.match(configError(() => parseConfig({ bogus: 1 })), /"bogus"/);
  });

  it('refuses unknown nested keys, naming each with its full path', () => {
    const message = configError(() => parseConfig({ http: { adr: ':5000' }, storage: { filesystem: { rootdir: '/x' } } }));
    assert.match(message, /"http\.adr"/);
    assert.match(message, /"storage\.filesystem\.rootdir"/);
  });

  it('refuses a bad duration, naming the key', () => {
    for (const age of ['3 days', '1d', '-1s', 'fast', '', '10']) {
      const message = configError(() => parseConfig({ storage: { maintenance: { uploadpurging: { age } } } }));
      assert.match(message, /storage\.maintenance\.uploadpurging\.age/, `age ${JSON.stringify(age)}: ${message}`);
    }
    assert.match(configError(() => parseConfig({ storage: { maintenance: { uploadpurging: { interval: 'soon' } } } })), /storage\.maintenance\.uploadpurging\.interval/);
  });

  it('refuses a zero upload purging interval, naming the key', () => {
    // With purging enabled, an interval of 0 would run the purger back to back forever.
    assert.match(configError(() => parseConfig({ storage: { maintenance: { uploadpurging: { enabled: true, interval: '0s' } } } })), /storage\.maintenance\.uploadpurging\.interval/);
  });

  it('refuses values of the wrong type, naming the key', () => {
    const cases: [Record<string, unknown>, RegExp][] = [
      [{ storage: { delete: { enabled: 'yes' } } }, /storage\.delete\.enabled/],
      [{ log: { level: 'verbose' } }, /log\.level/],
      [{ http: { host: 'not a url' } }, /http\.host/],
      [{ http: { addr: 5000 } }, /http\.addr/],
      [{ storage: { filesystem: { rootdirectory: '' } } }, /storage\.filesystem\.rootdirectory/],
      [{ http: null }, /http/],
    ];
    for (const [raw, key] of cases) assert.match(configError(() => parseConfig(raw)), key, JSON.stringify(raw));
  });

  it('refuses a malformed http.addr, naming the key', () => {
    for (const addr of ['nonsense', '127.0.0.1', '127.0.0.1:99999', 'host:port', '']) {
      assert.match(configError(() => parseConfig({ http: { addr } })), /http\.addr/, `addr ${JSON.stringify(addr)}`);
    }
  });

  it('accepts the listen address forms Distribution uses', () => {
    for (const addr of [':5000', '127.0.0.1:5000', '[::1]:5000', '0.0.0.0:0', 'localhost:8080']) {
      assert.equal(parseConfig({ http: { addr } }).config.http.addr, addr);
    }
  });
});

describe('configuration: REGISTRY_* environment overrides', () => {
  it('overrides keys named the Distribution way', () => {
    const { config, warnings } = parseConfig(
      { http: { addr: '127.0.0.1:5000' }, storage: { filesystem: { rootdirectory: '/from-file' } } },
      {
        REGISTRY_HTTP_ADDR: ':6000',
        REGISTRY_HTTP_HOST: 'https://registry.example.com',
        REGISTRY_LOG_LEVEL: 'debug',
        REGISTRY_STORAGE_FILESYSTEM_ROOTDIRECTORY: '/from-env',
        REGISTRY_STORAGE_MAINTENANCE_UPLOADPURGING_AGE: '2h',
        REGISTRY_STORAGE_MAINTENANCE_UPLOADPURGING_DRYRUN: 'true',
      },
    );
    assert.equal(config.http.addr, ':6000');
    assert.equal(config.http.host, 'https://registry.example.com');
    assert.equal(config.log.level, 'debug');
    assert.equal(config.storage.filesystem.rootdirectory, '/from-env');
    assert.equal(config.storage.maintenance.uploadpurging.age, 2 * HOUR);
    assert.equal(config.storage.maintenance.uploadpurging.dryrun, true);
    assert.deepEqual(warnings, []);
  });

  it('types REGISTRY_STORAGE_DELETE_ENABLED=false as the boolean false', () => {
    for (const value of ['false', 'False', 'FALSE']) {
      const { config } = parseConfig({ storage: { delete: { enabled: true } } }, { REGISTRY_STORAGE_DELETE_ENABLED: value });
      assert.equal(config.storage.delete.enabled, false, value);
      assert.equal(typeof config.storage.delete.enabled, 'boolean');
    }
    assert.equal(parseConfig({}, { REGISTRY_STORAGE_DELETE_ENABLED: 'true' }).config.storage.delete.enabled, true);
  });

  it('keeps an IPv6 listen address from the environment as text', () => {
    assert.equal(parseConfig({}, { REGISTRY_HTTP_ADDR: '[::1]:5000' }).config.http.addr, '[::1]:5000');
  });

  it('keeps a numeric-looking value as text for a key that is text', () => {
    const { config } = parseConfig({}, { REGISTRY_STORAGE_FILESYSTEM_ROOTDIRECTORY: '12345' });
    assert.equal(config.storage.filesystem.rootdirectory, '12345');
  });

  it('takes storage.redirect.disable from the environment, as Distribution does', () => {
    const { config, warnings } = parseConfig({}, { REGISTRY_STORAGE_REDIRECT_DISABLE: 'true' });
    assert.equal(config.storage.redirect.disable, true);
    assert.deepEqual(warnings, []);
  });

  it('sets a whole subtree from a YAML value', () => {
    const { config } = parseConfig({}, { REGISTRY_STORAGE_DELETE: '{enabled: false}' });
    assert.equal(config.storage.delete.enabled, false);
  });

  it('warns about a REGISTRY_ variable that names no key, and ignores REGISTRY_CONFIGURATION_PATH', () => {
    const { warnings } = parseConfig({}, { REGISTRY_HTTP_ADRESS: ':1', REGISTRY_CONFIGURATION_PATH: '/etc/x.yml', OTHER: 'x' });
    assert.equal(warnings.length, 1, JSON.stringify(warnings));
    assert.match(warnings[0]!, /REGISTRY_HTTP_ADRESS/);
  });

  it('warns when the environment sets an unimplemented key', () => {
    const { warnings } = parseConfig({}, { REGISTRY_HTTP_SECRET: 'abc' });
    assert.ok(warnings.some((w) => w.includes('"http.secret"')), JSON.stringify(warnings));
  });

  it('refuses a bad duration from the environment, naming the key', () => {
    assert.match(configError(() => parseConfig({}, { REGISTRY_STORAGE_MAINTENANCE_UPLOADPURGING_INTERVAL: 'weekly' })), /storage\.maintenance\.uploadpurging\.interval/);
  });
});

describe('configuration: loadConfig from a YAML file', () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'dockyard-config-'));
  });
  after(() => rm(dir, { recursive: true, force: true }));

  async function file(name: string, text: string): Promise<string> {
    const p = path.join(dir, name);
    await writeFile(p, text);
    return p;
  }

  it('reads a Distribution-style YAML file', async () => {
    const p = await file(
      'full.yml',
      [
        'version: 0.1',
        'log:',
        '  level: debug',
        'http:',
        '  addr: 0.0.0.0:5001',
        '  host: https://registry.example.com',
        'storage:',
        '  filesystem:',
        '    rootdirectory: /var/lib/registry',
        '  delete:',
        '    enabled: false',
        '  maintenance:',
        '    uploadpurging:',
        '      enabled: true',
        '      age: 1h30m',
        '      interval: 10m',
        '      dryrun: true',
        '',
      ].join('\n'),
    );
    const { config, warnings } = loadConfig(p, {});
    assert.equal(config.version, '0.1');
    assert.equal(config.log.level, 'debug');
    assert.equal(config.http.addr, '0.0.0.0:5001');
    assert.equal(config.http.host, 'https://registry.example.com');
    assert.equal(config.storage.filesystem.rootdirectory, '/var/lib/registry');
    assert.equal(config.storage.delete.enabled, false);
    assert.equal(config.storage.maintenance.uploadpurging.age, 90 * 60_000);
    assert.equal(config.storage.maintenance.uploadpurging.interval, 10 * 60_000);
    assert.equal(config.storage.maintenance.uploadpurging.dryrun, true);
    assert.deepEqual(warnings, []);
  });

  it('lets the environment override the file', async () => {
    const p = await file('env.yml', 'http:\n  addr: 127.0.0.1:5000\nstorage:\n  delete:\n    enabled: true\n');
    const { config } = loadConfig(p, { REGISTRY_HTTP_ADDR: '127.0.0.1:7000', REGISTRY_STORAGE_DELETE_ENABLED: 'false' });
    assert.equal(config.http.addr, '127.0.0.1:7000');
    assert.equal(config.storage.delete.enabled, false);
  });

  it('uses the defaults for no file and for an empty file', async () => {
    assert.equal(loadConfig(undefined, {}).config.http.addr, '127.0.0.1:5000');
    const p = await file('empty.yml', '');
    const { config } = loadConfig(p, {});
    assert.equal(config.http.addr, '127.0.0.1:5000');
    assert.equal(config.storage.filesystem.rootdirectory, './data');
  });

  it('warns about unimplemented keys in the file and names them', async () => {
    const p = await file('known.yml', 'http:\n  secret: s3cr3t\nstorage:\n  filesystem:\n    maxthreads: 50\n');
    const { warnings } = loadConfig(p, {});
    assert.ok(warnings.some((w) => w.includes('"http.secret"')));
    assert.ok(warnings.some((w) => w.includes('"storage.filesystem.maxthreads"')));
  });

  it('reads storage.cache as Distribution writes it: inmemory silently, its size as the cache bound, redis with a warning that it is not used', async () => {
    const inmemory = loadConfig(await file('cache.yml', 'storage:\n  cache:\n    blobdescriptor: inmemory\n    blobdescriptorsize: 5000\n'), {});
    assert.deepEqual(inmemory.warnings, []);
    assert.equal(manifestCacheOptions(inmemory.config.storage.cache).maxEntries, 5000);
    assert.equal(manifestCacheOptions(parseConfig({}).config.storage.cache).maxEntries, DEFAULT_MANIFEST_CACHE.maxEntries);
    const redis = parseConfig({ storage: { cache: { layerinfo: 'redis' } } }, {});
    assert.equal(redis.warnings.length, 1);
    assert.match(redis.warnings[0]!, /storage\.cache\.blobdescriptor: redis is not used/);
    const env = parseConfig({}, { REGISTRY_STORAGE_CACHE_BLOBDESCRIPTOR: 'inmemory' });
    assert.equal(env.config.storage.cache.blobdescriptor, 'inmemory');
    assert.match(configError(() => parseConfig({ storage: { cache: { blobdescriptor: 'memcached' } } })), /storage\.cache\.blobdescriptor/);
  });

  it('refuses an unknown key in the file, naming it', async () => {
    const p = await file('unknown.yml', 'storage:\n  filesystem:\n    rootdirectory: /x\n  deleet:\n    enabled: true\n');
    assert.match(configError(() => loadConfig(p, {})), /"storage\.deleet"/);
  });

  it('refuses a bad duration in the file, naming the key', async () => {
    const p = await file('duration.yml', 'storage:\n  maintenance:\n    uploadpurging:\n      age: one week\n');
    assert.match(configError(() => loadConfig(p, {})), /storage\.maintenance\.uploadpurging\.age/);
  });

  it('refuses a file that is not YAML, or not a mapping, or missing', async () => {
    assert.match(configError(() => loadConfig(path.join(dir, 'missing.yml'), {})), /missing\.yml/);
    assert.match(configError(() => loadConfig(path.join(dir, 'nope', 'x.yml'), {})), /x\.yml/);
    const bad = await file('bad.yml', 'http: [unclosed\n  addr: :5000\n');
    configError(() => loadConfig(bad, {}));
    const list = await file('list.yml', '- a\n- b\n');
    configError(() => loadConfig(list, {}));
  });
});
