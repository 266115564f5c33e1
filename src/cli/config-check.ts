import { stringify } from 'yaml';
import { configPath, EXIT_USAGE, loadConfigOrReport } from './config-file.ts';
import { CONFIG_HELP } from './help.ts';
import { parseCommand, UsageError } from './usage.ts';

/** What a masked value is printed as. */
export const MASK = '*****';

/** Keys whose value is a secret wherever they appear (S3 credentials, passwords, webhook secrets). */
const SECRET_KEYS = new Set(['password', 'secret', 'secretkey', 'accesskey', 'sessiontoken', 'token', 'apikey']);
/** Response or request headers whose values are credentials (an endpoint's `Authorization`). */
const SECRET_HEADERS = /^(authorization|proxy-authorization|cookie|x-api-key|x-auth-token)$|token|secret/i;
/** Values that are secrets by their shape, under any key. */
const SECRET_VALUE = /^(whsec_|whsk_)|-----BEGIN [A-Z ]*PRIVATE KEY-----/;

/** `dockyard config check [--format yaml|json] [--quiet] [config.yml]`. */
export function configCheck(args: string[]): number {
  const [sub, ...rest] = args;
  if (sub === '-h' || sub === '--help' || sub === 'help') {
    process.stdout.write(CONFIG_HELP);
    return 0;
  }
  if (sub !== 'check') throw new UsageError(sub === undefined ? 'a subcommand is needed: config check' : `unknown subcommand "config ${sub}" (there is "config check")`, 'config');
  const { values, positionals } = parseCommand(
    'config',
    rest,
    { format: { type: 'string', short: 'f', default: 'yaml' }, quiet: { type: 'boolean', short: 'q', default: false } },
    1,
  );
  if (values.help) {
    process.stdout.write(CONFIG_HELP);
    return 0;
  }
  if (values.format !== 'yaml' && values.format !== 'json') throw new UsageError(`--format must be yaml or json, not "${values.format}"`, 'config');
  const loaded = loadConfigOrReport(configPath(positionals[0]));
  if (!loaded) return EXIT_USAGE;
  for (const warning of loaded.warnings) process.stderr.write(`dockyard: warning: ${warning}\n`);
  if (values.quiet) return 0;
  const masked = maskSecrets(loaded.config);
  process.stdout.write(values.format === 'json' ? `${JSON.stringify(masked, null, 2)}\n` : stringify(masked));
  return 0;
}

/** A copy of the configuration tree with every secret replaced by MASK (and URL passwords inside URLs). */
export function maskSecrets(value: unknown, key = '', underHeaders = false): unknown {
  if (Array.isArray(value)) return value.map((item) => maskSecrets(item, key, underHeaders));
  if (typeof value === 'object' && value !== null) {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, maskSecrets(v, k, key === 'headers')]));
  }
  if (typeof value !== 'string' || value === '') return value;
  if (SECRET_KEYS.has(key.toLowerCase()) || (underHeaders && SECRET_HEADERS.test(key)) || SECRET_VALUE.test(value)) return MASK;
  return maskUrlPassword(value);
}

/** `postgres://user:pw@host/db` -> `postgres://user:*****@host/db`; other text unchanged. */
function maskUrlPassword(text: string): string {
  if (!/^[a-z][a-z0-9+.-]*:\/\/[^/@\s]*:[^/@\s]*@/i.test(text)) return text;
  return text.replace(/^([a-z][a-z0-9+.-]*:\/\/[^/:@\s]*):[^/@\s]*@/i, `$1:${MASK}@`);
}
