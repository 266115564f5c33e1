import { z } from 'zod';

/** Distribution's `http.tls.minimumtls` values that we serve, and Node's names for them. */
export const MINIMUM_TLS = { 'tls1.2': 'TLSv1.2', 'tls1.3': 'TLSv1.3' } as const;

/** Distribution's only `clientauth` mode we implement; it is also its default. */
const REQUIRE_AND_VERIFY = 'require-and-verify-client-cert';

/**
 * The TLS 1.2 suites `http.tls.ciphersuites` may name, by Go's crypto/tls names (which
 * Distribution takes), and OpenSSL's for them (Node's `ciphers`): the ECDHE ones, which keep
 * forward secrecy. Distribution's list, less the static-RSA and 3DES suites (NOT_OFFERED).
 */
export const TLS12_CIPHER_SUITES = {
  TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256: 'ECDHE-ECDSA-AES128-GCM-SHA256',
  TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384: 'ECDHE-ECDSA-AES256-GCM-SHA384',
  TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256: 'ECDHE-ECDSA-CHACHA20-POLY1305',
  TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA: 'ECDHE-ECDSA-AES128-SHA',
  TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA: 'ECDHE-ECDSA-AES256-SHA',
  TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256: 'ECDHE-RSA-AES128-GCM-SHA256',
  TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384: 'ECDHE-RSA-AES256-GCM-SHA384',
  TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256: 'ECDHE-RSA-CHACHA20-POLY1305',
  TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA: 'ECDHE-RSA-AES128-SHA',
  TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA: 'ECDHE-RSA-AES256-SHA',
} as const;

/**
 * TLS 1.3's suites. Go does not let them be configured: Distribution takes their names and they
 * change nothing. So here: accepted, and TLS 1.3 keeps Node's three (these).
 */
const TLS13_CIPHER_SUITES: readonly string[] = ['TLS_AES_128_GCM_SHA256', 'TLS_AES_256_GCM_SHA384', 'TLS_CHACHA20_POLY1305_SHA256'];

/** Names Distribution takes that are not offered here: static RSA key exchange (no forward secrecy) and 3DES. */
const NOT_OFFERED: readonly string[] = [
  'TLS_RSA_WITH_3DES_EDE_CBC_SHA',
  'TLS_RSA_WITH_AES_128_CBC_SHA',
  'TLS_RSA_WITH_AES_256_CBC_SHA',
  'TLS_RSA_WITH_AES_128_GCM_SHA256',
  'TLS_RSA_WITH_AES_256_GCM_SHA384',
  'TLS_ECDHE_RSA_WITH_3DES_EDE_CBC_SHA',
];

const cipherSuiteName = z.string().superRefine((name, ctx) => {
  if (name in TLS12_CIPHER_SUITES || TLS13_CIPHER_SUITES.includes(name)) return;
  ctx.addIssue({
    code: 'custom',
    message: NOT_OFFERED.includes(name)
      ? `"${name}" is not offered (static RSA key exchange or 3DES); take an ECDHE suite: ${Object.keys(TLS12_CIPHER_SUITES).join(', ')}`
      : `unknown TLS cipher suite "${name}" (Go's names, as Distribution takes them: ${Object.keys(TLS12_CIPHER_SUITES).join(', ')}, and TLS 1.3's ${TLS13_CIPHER_SUITES.join(', ')})`,
  });
});

/** OpenSSL's names for the TLS 1.2 suites of `http.tls.ciphersuites`, in its order (TLS 1.3's names dropped). */
export function tls12Ciphers(names: readonly string[]): string[] {
  return names.flatMap((name) => (name in TLS12_CIPHER_SUITES ? [TLS12_CIPHER_SUITES[name as keyof typeof TLS12_CIPHER_SUITES]] : []));
}

/**
 * `http.tls`, as Distribution names it: the server's certificate and key (PEM files), and with
 * `clientcas` mutual TLS (a client certificate signed by one of those CAs is required). Files
 * are read at start (src/tls-options.ts). `letsencrypt` is refused in known-keys.ts.
 */
export const tlsSchema = z.strictObject({
  certificate: z.string().min(1, 'the certificate file (PEM) is required'),
  key: z.string().min(1, 'the private key file (PEM) is required'),
  clientcas: z.array(z.string().min(1)).default([]),
  clientauth: z
    .literal(REQUIRE_AND_VERIFY, { message: `only "${REQUIRE_AND_VERIFY}" is implemented (Distribution's default)` })
    .default(REQUIRE_AND_VERIFY),
  minimumtls: z
    .enum(Object.keys(MINIMUM_TLS) as [keyof typeof MINIMUM_TLS, ...(keyof typeof MINIMUM_TLS)[]], {
      message: 'must be "tls1.2" or "tls1.3" (TLS 1.0 and 1.1 are not offered)',
    })
    .default('tls1.2'),
  /**
   * The TLS 1.2 suites offered, by Go's names (TLS_ECDHE_..._WITH_...), in order of preference;
   * empty: Node's defaults. TLS 1.3 names are taken and change nothing (as in Go); with
   * minimumtls tls1.3 the list has no effect (Distribution ignores it there too).
   */
  ciphersuites: z
    .array(cipherSuiteName)
    .default([])
    .refine((names) => names.length === 0 || !names.every((name) => TLS13_CIPHER_SUITES.includes(name)), {
      message: 'names only TLS 1.3 suites, which leaves TLS 1.2 clients none: name a TLS 1.2 suite, or set minimumtls: tls1.3',
    }),
});

export type TlsConfig = z.infer<typeof tlsSchema>;
