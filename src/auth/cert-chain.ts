import { X509Certificate, type KeyObject } from 'node:crypto';

/** The certificates of a PEM bundle (Distribution's `rootcertbundle`). */
export function parseCertificateBundle(pem: string): X509Certificate[] {
  const blocks = pem.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? [];
  return blocks.map((block) => new X509Certificate(block));
}

/**
 * The signing key of a token whose header carries `x5c` (base64 DER, leaf first): each
 * certificate must be in its validity period and signed by the next, and the last must be one of
 * `roots` or be signed by one. Throws when the chain does not verify.
 */
export function verifiedLeafKey(x5c: readonly unknown[], roots: readonly X509Certificate[], now = new Date()): KeyObject {
  if (x5c.length === 0 || x5c.length > 10) throw new Error('x5c must hold 1 to 10 certificates');
  const chain = x5c.map((entry) => {
    if (typeof entry !== 'string') throw new Error('x5c entries must be base64 strings');
    return new X509Certificate(Buffer.from(entry, 'base64'));
  });
  for (const cert of chain) {
    if (now < new Date(cert.validFrom) || now > new Date(cert.validTo)) throw new Error(`certificate ${cert.subject} is not valid now`);
  }
  for (let i = 0; i + 1 < chain.length; i++) {
    if (!signs(chain[i + 1]!, chain[i]!)) throw new Error(`certificate ${chain[i]!.subject} is not signed by the next in the chain`);
  }
  const top = chain[chain.length - 1]!;
  const trusted = roots.some((root) => root.fingerprint256 === top.fingerprint256 || signs(root, top));
  if (!trusted) throw new Error('the certificate chain does not lead to a trusted root');
  return chain[0]!.publicKey;
}

function signs(issuer: X509Certificate, cert: X509Certificate): boolean {
  return issuer.ca && cert.checkIssued(issuer) && cert.verify(issuer.publicKey);
}
