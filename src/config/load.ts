import { readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import { configSchema, type Config } from './schema.ts';
import { storageCacheWarning } from './storage.ts';
import { DISTRIBUTION_KEYS_REFUSED, DISTRIBUTION_TUNING_KEYS_NOT_IMPLEMENTED, IMPLEMENTED_KEYS } from './known-keys.ts';

export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConfigError';
  }
}

export interface LoadedConfig {
  config: Config;
  /** One line for each Distribution key that was given but is not implemented. */
  warnings: string[];
}

type Tree = Record<string, unknown>;

/**
 * Reads the YAML file (if any), applies `REGISTRY_*` environment overrides as Distribution
 * names them (`REGISTRY_HTTP_ADDR` -> `http.addr`), and validates once. Throws ConfigError with
 * a message that names the offending key.
 */
export function loadConfig(path: string | undefined, env: NodeJS.ProcessEnv = process.env): LoadedConfig {
  let raw: unknown = {};
  if (path) {
    let text: string;
    try {
      text = readFileSync(path, 'utf8');
    } catch (err) {
      throw new ConfigError(`cannot read configuration file ${path}: ${(err as Error).message}`);
    }
    try {
      raw = parseYaml(text) ?? {};
    } catch (err) {
      throw new ConfigError(`configuration file ${path} is not valid YAML: ${(err as Error).message}`);
    }
  }
  if (!isTree(raw)) throw new ConfigError('configuration must be a YAML mapping of keys');
  return parseConfig(raw, env);
}

export function parseConfig(raw: Tree, env: NodeJS.ProcessEnv = {}): LoadedConfig {
  const tree = structuredClone(raw);
  const warnings: string[] = [];
  applyEnvironment(tree, env, warnings);
  const refused = DISTRIBUTION_KEYS_REFUSED.filter((key) => hasPath(tree, key));
  if (refused.length > 0) {
    throw new ConfigError(
      refused
        .map((key) => `configuration key "${key}" is not implemented by Dockyard; it changes who may do what or how data is kept or travels, so the registry will not start without it: remove it`)
        .join('; '),
    );
  }
  for (const key of DISTRIBUTION_TUNING_KEYS_NOT_IMPLEMENTED) {
    if (removePath(tree, key)) warnings.push(`configuration key "${key}" is not implemented by Dockyard yet and is ignored`);
  }
  const result = configSchema.safeParse(tree);
  if (!result.success) {
    const lines = result.error.issues.map((issue) => {
      const at = issue.path.join('.');
      if (issue.code === 'unrecognized_keys') {
        const keys = issue.keys.map((k) => (at ? `${at}.${k}` : k));
        return `unknown configuration key${keys.length > 1 ? 's' : ''} ${keys.map((k) => `"${k}"`).join(', ')}`;
      }
      return `configuration key "${at || '(root)'}": ${issue.message}`;
    });
    throw new ConfigError(lines.join('; '));
  }
  const cacheWarning = storageCacheWarning(result.data.storage.cache);
  if (cacheWarning) warnings.push(cacheWarning);
  return { config: result.data, warnings };
}

const ENV_PREFIX = 'REGISTRY_';
const ENV_IGNORED = new Set(['REGISTRY_CONFIGURATION_PATH']);

function applyEnvironment(tree: Tree, env: NodeJS.ProcessEnv, warnings: string[]): void {
  const byEnvName = new Map<string, string>();
  for (const key of [...IMPLEMENTED_KEYS, ...DISTRIBUTION_TUNING_KEYS_NOT_IMPLEMENTED, ...DISTRIBUTION_KEYS_REFUSED]) {
    byEnvName.set(envName(key), key);
  }
  for (const [name, value] of Object.entries(env)) {
    if (!name.startsWith(ENV_PREFIX) || ENV_IGNORED.has(name) || value === undefined) continue;
    const key = byEnvName.get(name);
    if (!key) {
      // A variable below a refused key (REGISTRY_HTTP_TLS_CERTIFICATE) must refuse the start too.
      const refused = DISTRIBUTION_KEYS_REFUSED.find((k) => name.startsWith(`${envName(k)}_`));
      if (refused) {
        if (!hasPath(tree, refused)) setPath(tree, refused, {});
        continue;
      }
      warnings.push(`environment variable ${name} names no configuration key and is ignored`);
      continue;
    }
    setPath(tree, key, scalar(value));
  }
}

function envName(key: string): string {
  return ENV_PREFIX + key.toUpperCase().replaceAll('.', '_');
}

/**
 * Environment values stay text (the schema reads them by the type of their key, so a root
 * directory named `12345` stays a name); a value that opens with `[` or `{` sets a subtree as YAML.
 */
function scalar(value: string): unknown {
  if (/^[[{]/.test(value.trim())) {
    try {
      return parseYaml(value);
    } catch {
      return value;
    }
  }
  return value;
}

function isTree(v: unknown): v is Tree {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function setPath(tree: Tree, key: string, value: unknown): void {
  const parts = key.split('.');
  let node = tree;
  for (const part of parts.slice(0, -1)) {
    const next = node[part];
    if (!isTree(next)) node[part] = {};
    node = node[part] as Tree;
  }
  node[parts[parts.length - 1]!] = value;
}

function hasPath(tree: Tree, key: string): boolean {
  let node: unknown = tree;
  for (const part of key.split('.')) {
    if (!isTree(node) || !(part in node)) return false;
    node = node[part];
  }
  return true;
}

function removePath(tree: Tree, key: string): boolean {
  const parts = key.split('.');
  let node: unknown = tree;
  for (const part of parts.slice(0, -1)) {
    if (!isTree(node)) return false;
    node = node[part];
  }
  const last = parts[parts.length - 1]!;
  if (!isTree(node) || !(last in node)) return false;
  delete node[last];
  return true;
}
