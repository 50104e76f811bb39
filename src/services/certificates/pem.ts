import { createPrivateKey, type KeyObject, X509Certificate } from 'node:crypto';
import { AppError } from '../../core/errors';

// Checking a certificate and key pair before Portal stores or serves it: the PEM parses (node's
// X509Certificate), the chain runs leaf → issuer in order, the key is the leaf's, the key is strong
// enough, the leaf names at least one host and has not expired. Each refusal says what is wrong.

export const MAX_PEM_CHARS = 64 * 1024;
const PEM_BLOCK = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g;

export type CertificateFacts = {
  commonName: string | null;
  domains: string[];
  issuer: string;
  serialNumber: string;
  fingerprintSha256: string;
  notBefore: Date;
  notAfter: Date;
  /** The chain as stored: each certificate re-encoded, leaf first. */
  chainPem: string;
};

const bad = (message: string) => new AppError('BAD_REQUEST', message);

/** Parses a PEM chain (leaf first); refuses garbage and chains out of order. */
export function parseChain(pem: string): X509Certificate[] {
  const blocks = pem.match(PEM_BLOCK) ?? [];
  if (blocks.length === 0) throw bad('certificate is not a PEM certificate (-----BEGIN CERTIFICATE-----)');
  const chain = blocks.map((block, i) => {
    try {
      return new X509Certificate(block);
    } catch {
      throw bad(
        i === 0 ? 'certificate could not be parsed' : `certificate ${i + 1} of the chain could not be parsed`,
      );
    }
  });
  for (let i = 0; i + 1 < chain.length; i++) {
    if (!chain[i]!.checkIssued(chain[i + 1]!) || !chain[i]!.verify(chain[i + 1]!.publicKey))
      throw bad(
        `certificate ${i + 2} of the chain did not issue certificate ${i + 1} (put the leaf first, then its issuers)`,
      );
  }
  return chain;
}

export function parsePrivateKey(pem: string, passphrase?: string): KeyObject {
  if (!pem.includes('-----BEGIN') || !pem.includes('PRIVATE KEY-----'))
    throw bad('key is not a PEM private key (-----BEGIN PRIVATE KEY-----)');
  let key: KeyObject;
  try {
    key = createPrivateKey(passphrase === undefined ? { key: pem } : { key: pem, passphrase });
  } catch (err) {
    const encrypted = /ENCRYPTED|passphrase/i.test(`${pem.slice(0, 64)} ${(err as Error).message}`);
    throw bad(
      encrypted && passphrase === undefined
        ? 'key is encrypted: give its passphrase'
        : encrypted
          ? 'key could not be decrypted with that passphrase'
          : 'key could not be parsed',
    );
  }
  const details = key.asymmetricKeyDetails;
  if (key.asymmetricKeyType === 'rsa' && (details?.modulusLength ?? 0) < 2048)
    throw bad('RSA keys must be at least 2048 bits');
  if (!['rsa', 'rsa-pss', 'ec', 'ed25519'].includes(key.asymmetricKeyType ?? ''))
    throw bad(`key type ${key.asymmetricKeyType} cannot serve TLS`);
  return key;
}

/** `DNS:a, IP Address:1.2.3.4` → `['DNS:a', 'IP:1.2.3.4']`. */
function sansOf(cert: X509Certificate): string[] {
  return (cert.subjectAltName ?? '')
    .split(/,\s*/)
    .map((s) => s.trim())
    .filter((s) => s.startsWith('DNS:') || s.startsWith('IP Address:'))
    .map((s) => s.replace(/^IP Address:/, 'IP:'));
}

const commonNameOf = (subject: string) => /(?:^|\n)CN=([^\n]+)/.exec(subject)?.[1] ?? null;

/** Everything Portal checks and keeps about an uploaded or generated pair. */
export function inspectPair(opts: {
  certificate: string;
  key: string;
  passphrase?: string | undefined;
  now?: Date;
}) {
  if (opts.certificate.length > MAX_PEM_CHARS || opts.key.length > MAX_PEM_CHARS)
    throw bad(`certificate and key must each be at most ${MAX_PEM_CHARS} characters`);
  const chain = parseChain(opts.certificate);
  const key = parsePrivateKey(opts.key, opts.passphrase);
  const leaf = chain[0]!;
  if (!leaf.checkPrivateKey(key)) throw bad('The private key does not match the certificate');
  const notAfter = new Date(leaf.validTo);
  if (notAfter.getTime() <= (opts.now ?? new Date()).getTime())
    throw bad(`The certificate expired on ${notAfter.toISOString()}`);
  const domains = sansOf(leaf);
  if (domains.length === 0) throw bad('The certificate names no host (no subjectAltName DNS or IP entry)');
  const facts: CertificateFacts = {
    commonName: commonNameOf(leaf.subject),
    domains,
    issuer: leaf.issuer.replaceAll('\n', ', '),
    serialNumber: leaf.serialNumber,
    fingerprintSha256: leaf.fingerprint256,
    notBefore: new Date(leaf.validFrom),
    notAfter,
    chainPem: chain.map((c) => c.toString()).join(''),
  };
  // Stored unencrypted (then sealed at rest): servers and the export need no passphrase.
  return { facts, keyPem: key.export({ type: 'pkcs8', format: 'pem' }).toString() };
}
