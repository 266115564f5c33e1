import { readFileSync } from 'node:fs';
import { createSecureContext, type SecureContextOptions, type TlsOptions } from 'node:tls';
import { MINIMUM_TLS, tls12Ciphers, type TlsConfig } from './config/tls.ts';
import { StartupError } from './startup-error.ts';

/**
 * The options for `https.createServer` from `http.tls`: the files are read now, and the
 * certificate, key and client CAs are loaded into a secure context once, so that a file that is
 * missing, not PEM, or a key that does not match its certificate stops the start with one line
 * rather than failing every handshake later.
 */
export function tlsServerOptions(tls: TlsConfig): TlsOptions {
  const options: SecureContextOptions = {
    cert: readPem(tls.certificate, 'http.tls.certificate'),
    key: readPem(tls.key, 'http.tls.key'),
    minVersion: MINIMUM_TLS[tls.minimumtls],
    // Only TLS 1.2 names: Node then keeps its TLS 1.3 suites, as Go does. The server's order wins.
    ...(tls.ciphersuites.length > 0 ? { ciphers: tls12Ciphers(tls.ciphersuites).join(':'), honorCipherOrder: true } : {}),
  };
  try {
    createSecureContext(options);
  } catch (err) {
    throw new StartupError(`http.tls: the certificate ${tls.certificate} and key ${tls.key} cannot be used: ${reason(err)}`, { cause: err });
  }
  if (tls.clientcas.length === 0) return options;

  const ca = tls.clientcas.map((file, i) => {
    const pem = readPem(file, `http.tls.clientcas[${i}]`);
    try {
      createSecureContext({ ca: pem });
    } catch (err) {
      throw new StartupError(`http.tls.clientcas[${i}]: ${file} is not a PEM CA certificate: ${reason(err)}`, { cause: err });
    }
    return pem;
  });
  // Distribution's require-and-verify-client-cert: no certificate signed by one of these CAs, no session.
  return { ...options, ca, requestCert: true, rejectUnauthorized: true };
}

function readPem(file: string, key: string): Buffer {
  let pem: Buffer;
  try {
    pem = readFileSync(file);
  } catch (err) {
    throw new StartupError(`${key}: cannot read ${file}: ${reason(err)}`, { cause: err });
  }
  if (!pem.includes('-----BEGIN ')) throw new StartupError(`${key}: ${file} is not a PEM file (no "-----BEGIN" line)`);
  return pem;
}

/** OpenSSL's and the file system's messages, on one line. */
function reason(err: unknown): string {
  const e = err as { code?: unknown; message?: unknown };
  const message = typeof e.message === 'string' ? e.message : String(err);
  return message.replace(/\s*\n\s*/g, ' ');
}
