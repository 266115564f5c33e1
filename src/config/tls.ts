import { z } from 'zod';

/** Distribution's `http.tls.minimumtls` values that we serve, and Node's names for them. */
export const MINIMUM_TLS = { 'tls1.2': 'TLSv1.2', 'tls1.3': 'TLSv1.3' } as const;

/** Distribution's only `clientauth` mode we implement; it is also its default. */
const REQUIRE_AND_VERIFY = 'require-and-verify-client-cert';

/**
 * `http.tls`, as Distribution names it: the server's certificate and key (PEM files), and with
 * `clientcas` mutual TLS (a client certificate signed by one of those CAs is required). Files
 * are read at start (src/tls-options.ts). `letsencrypt` and `ciphersuites` are refused in
 * known-keys.ts.
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
});

export type TlsConfig = z.infer<typeof tlsSchema>;
