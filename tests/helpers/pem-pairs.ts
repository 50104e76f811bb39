import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { makeTempDir, removeDir } from './env';

// Certificate and key pairs made with openssl for the certificate tests: what operators upload.

export type Pair = { cert: string; key: string };

export function opensslPair(
  opts: {
    cn?: string;
    san?: string;
    key?: 'ec' | 'rsa1024' | 'rsa2048';
    passphrase?: string;
    days?: number;
  } = {},
): Pair {
  const dir = makeTempDir('portal-pem-');
  try {
    const keyFile = join(dir, 'key.pem');
    const certFile = join(dir, 'cert.pem');
    const key = opts.key ?? 'ec';
    const newkey =
      key === 'ec'
        ? ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1']
        : ['-newkey', `rsa:${key.slice(3)}`];
    execFileSync(
      'openssl',
      [
        'req',
        '-x509',
        ...newkey,
        ...(opts.passphrase ? ['-passout', `pass:${opts.passphrase}`] : ['-nodes']),
        '-days',
        String(opts.days ?? 30),
        '-subj',
        `/CN=${opts.cn ?? 'upload.test'}`,
        ...(opts.san === ''
          ? []
          : ['-addext', `subjectAltName=${opts.san ?? 'DNS:upload.test,IP:127.0.0.1'}`]),
        '-keyout',
        keyFile,
        '-out',
        certFile,
      ],
      { stdio: 'ignore' },
    );
    return { cert: readFileSync(certFile, 'utf8'), key: readFileSync(keyFile, 'utf8') };
  } finally {
    removeDir(dir);
  }
}
