import { readFileSync } from 'node:fs';
import { request as httpRequest, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { Config } from '../config/schema.ts';
import { parseListenAddress } from '../config/listen-address.ts';
import { configPath, EXIT_FAILURE, loadConfigOrReport } from './config-file.ts';
import { HEALTH_HELP } from './help.ts';
import { parseCommand, UsageError } from './usage.ts';

/** Under Docker's HEALTHCHECK --timeout (3s in our Dockerfile), so the probe reports its own failure. */
const PROBE_TIMEOUT_MS = 2_500;
/** How much of an unhealthy answer's body the one line repeats. */
const BODY_CHARS = 300;

/**
 * `dockyard health [--live] [--cert FILE --key FILE] [config.yml]`: asks this host's registry, at
 * the configured http.addr, over http or https as configured, for /readyz (or /healthz with
 * --live), and prints one line. Exit 0 when it answers 200, 1 otherwise: what Docker's
 * HEALTHCHECK reads (it reserves 2, so a configuration that does not load is 1 here too).
 */
export async function health(args: string[]): Promise<number> {
  const { values, positionals } = parseCommand(
    'health',
    args,
    { live: { type: 'boolean', short: 'l', default: false }, cert: { type: 'string' }, key: { type: 'string' } },
    1,
  );
  if (values.help) {
    process.stdout.write(HEALTH_HELP);
    return 0;
  }
  if ((values.cert === undefined) !== (values.key === undefined)) throw new UsageError('--cert and --key go together', 'health');
  const loaded = loadConfigOrReport(configPath(positionals[0]));
  if (!loaded) return EXIT_FAILURE;
  const url = probeUrl(loaded.config, values.live === true ? '/healthz' : '/readyz');
  const clientCert = typeof values.cert === 'string' && typeof values.key === 'string' ? { cert: values.cert, key: values.key } : undefined;
  try {
    const { status, body } = await probe(url, clientCert);
    const healthy = status === 200;
    const line = `dockyard: ${url}: ${status} ${healthy ? 'healthy' : `unhealthy ${oneLine(body)}`}\n`;
    (healthy ? process.stdout : process.stderr).write(line);
    return healthy ? 0 : EXIT_FAILURE;
  } catch (err) {
    const why = err instanceof Error ? err.message : String(err);
    const hint = loaded.config.http.tls?.clientcas.length && !clientCert ? ' (http.tls.clientcas asks for a client certificate: --cert and --key)' : '';
    process.stderr.write(`dockyard: ${url}: unhealthy: ${oneLine(why)}${hint}\n`);
    return EXIT_FAILURE;
  }
}

/** Where this host's registry answers: http.addr, with a wildcard host probed on loopback. */
export function probeUrl(config: Config, path: string): string {
  const { host, port } = parseListenAddress(config.http.addr);
  const loopback = host === undefined || host === '0.0.0.0' ? '127.0.0.1' : host === '::' ? '[::1]' : host.includes(':') ? `[${host}]` : host;
  return `${config.http.tls ? 'https' : 'http'}://${loopback}:${port}${path}`;
}

/**
 * One GET. Over https the certificate is not verified: this is a probe of the server on this
 * host, whose certificate names its public name (not 127.0.0.1) and whose CA this host may not
 * trust; the handshake is real TLS all the same.
 */
function probe(url: string, clientCert: { cert: string; key: string } | undefined): Promise<{ status: number; body: string }> {
  const tls = url.startsWith('https:');
  const credentials = clientCert ? { cert: readFileSync(clientCert.cert), key: readFileSync(clientCert.key) } : {};
  return new Promise((resolve, reject) => {
    const answered = (res: IncomingMessage) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body = (body + chunk).slice(0, BODY_CHARS)));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      res.on('error', reject);
    };
    const options = { method: 'GET', timeout: PROBE_TIMEOUT_MS, headers: { 'user-agent': 'dockyard-health' } };
    const req = tls ? httpsRequest(url, { ...options, ...credentials, rejectUnauthorized: false }, answered) : httpRequest(url, options, answered);
    req.on('timeout', () => req.destroy(new Error(`no answer within ${PROBE_TIMEOUT_MS} ms`)));
    req.on('error', reject);
    req.end();
  });
}

const oneLine = (text: string) => text.replace(/\s*\n\s*/g, ' ').trim();
