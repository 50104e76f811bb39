import { randomBytes, webcrypto } from 'node:crypto';
import { isIP } from 'node:net';
import * as x509 from '@peculiar/x509';

// A self-signed certificate for the names given (DNS names and IP addresses), ECDSA P-256, made
// with @peculiar/x509 on node's WebCrypto. Browsers warn about it; it serves until a real one is
// uploaded or issued.

x509.cryptoProvider.set(webcrypto as unknown as Parameters<typeof x509.cryptoProvider.set>[0]);

const ALGORITHM = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' } as const;
const DAY_MS = 86_400_000;

const pemOf = (label: string, der: ArrayBuffer) =>
  `-----BEGIN ${label}-----\n${Buffer.from(der)
    .toString('base64')
    .match(/.{1,64}/g)!
    .join('\n')}\n-----END ${label}-----\n`;

export async function generateSelfSigned(opts: { domains: string[]; days: number; now?: Date }) {
  const now = opts.now ?? new Date();
  const keys = await webcrypto.subtle.generateKey(ALGORITHM, true, ['sign', 'verify']);
  const first = opts.domains[0]!;
  const certificate = await x509.X509CertificateGenerator.createSelfSigned({
    // Positive (high bit clear) and unique enough to tell certificates apart.
    serialNumber: `01${randomBytes(15).toString('hex')}`,
    name: `CN=${first.replace(/[,+="\\<>;#]/g, '')}`,
    notBefore: new Date(now.getTime() - 60_000),
    notAfter: new Date(now.getTime() + opts.days * DAY_MS),
    signingAlgorithm: ALGORITHM,
    keys: keys as unknown as Parameters<typeof x509.X509CertificateGenerator.createSelfSigned>[0]['keys'],
    extensions: [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.KeyUsagesExtension(
        x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.keyEncipherment,
        true,
      ),
      new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth]),
      new x509.SubjectAlternativeNameExtension(
        opts.domains.map((d) =>
          isIP(d) ? { type: 'ip' as const, value: d } : { type: 'dns' as const, value: d },
        ),
      ),
    ],
  });
  const pkcs8 = await webcrypto.subtle.exportKey('pkcs8', keys.privateKey);
  return { certificate: certificate.toString('pem'), key: pemOf('PRIVATE KEY', pkcs8) };
}
