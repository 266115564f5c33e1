import { execFileSync } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import * as path from 'node:path';

export interface TestCertificates {
  /** The CA that signed the server and client certificates. */
  ca: string;
  serverCert: string;
  serverKey: string;
  /** A client certificate (clientAuth) signed by `ca`. */
  clientCert: string;
  clientKey: string;
  /** A second CA, and a client certificate it signed: trusted by nobody. */
  otherCa: string;
  strangerCert: string;
  strangerKey: string;
}

/**
 * A throwaway CA with a server certificate for 127.0.0.1 (SAN IP:127.0.0.1) and a client
 * certificate, plus a second CA with a client certificate of its own, all made with openssl in `dir`.
 */
export async function makeCertificates(dir: string): Promise<TestCertificates> {
  const file = (name: string) => path.join(dir, name);
  const openssl = (...args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' });
  const key = (name: string) => openssl('genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-out', file(name));
  for (const ca of ['ca', 'other-ca']) {
    key(`${ca}.key`);
    openssl('req', '-x509', '-new', '-key', file(`${ca}.key`), '-subj', `/CN=dockyard-test-${ca}`, '-days', '1', '-out', file(`${ca}.pem`));
  }
  const issue = async (name: string, ca: string, subject: string, extensions: string) => {
    key(`${name}.key`);
    openssl('req', '-new', '-key', file(`${name}.key`), '-subj', subject, '-out', file(`${name}.csr`));
    await writeFile(file(`${name}.ext`), extensions);
    openssl('x509', '-req', '-in', file(`${name}.csr`), '-CA', file(`${ca}.pem`), '-CAkey', file(`${ca}.key`), '-CAcreateserial',
      '-days', '1', '-extfile', file(`${name}.ext`), '-out', file(`${name}.pem`));
  };
  await issue('server', 'ca', '/CN=127.0.0.1', 'subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n');
  await issue('client', 'ca', '/CN=dockyard-client', 'extendedKeyUsage=clientAuth\n');
  await issue('stranger', 'other-ca', '/CN=dockyard-stranger', 'extendedKeyUsage=clientAuth\n');
  return {
    ca: file('ca.pem'),
    serverCert: file('server.pem'),
    serverKey: file('server.key'),
    clientCert: file('client.pem'),
    clientKey: file('client.key'),
    otherCa: file('other-ca.pem'),
    strangerCert: file('stranger.pem'),
    strangerKey: file('stranger.key'),
  };
}
