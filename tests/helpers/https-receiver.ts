import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { makeTempDir, removeDir } from './env';

// A real HTTPS webhook receiver for tests: a self-signed certificate made with openssl for
// localhost, 127.0.0.1 and `*.test` names, every request recorded by path, and per-path answers
// (a queue of statuses, then a default). The certificate file is what WEBHOOK_TEST_CA_FILE trusts.

export type Received = { path: string; headers: Record<string, string>; body: string; at: number };

export type Receiver = {
  url(path: string, host?: string): string;
  port: number;
  caFile: string;
  received(path: string): Received[];
  /** Answers for `path`: these statuses first, in order, then `then` (200 unless given). */
  answer(path: string, statuses: number[], then?: number): void;
  close(): Promise<void>;
};

/** Why HTTPS receiver tests cannot run here, or undefined. */
export function receiverSkipReason(): string | undefined {
  try {
    execFileSync('openssl', ['version'], { stdio: 'ignore' });
    return undefined;
  } catch {
    return 'openssl is not installed (apt-get install openssl): it makes the receiver certificate';
  }
}

/** A self-signed certificate (and its key) for `altNames` (`DNS:…`, `IP:…`), written into `dir`. */
export function selfSignedCertificate(dir: string, altNames: string[]) {
  const keyFile = join(dir, 'key.pem');
  const certFile = join(dir, 'cert.pem');
  execFileSync(
    'openssl',
    [
      'req',
      '-x509',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:prime256v1',
      '-nodes',
      '-days',
      '2',
      '-subj',
      '/CN=localhost',
      '-addext',
      `subjectAltName=${altNames.join(',')}`,
      '-keyout',
      keyFile,
      '-out',
      certFile,
    ],
    { stdio: 'ignore' },
  );
  return { keyFile, certFile };
}

export async function startReceiver(): Promise<Receiver> {
  const dir = makeTempDir('portal-receiver-');
  const { keyFile, certFile: caFile } = selfSignedCertificate(dir, [
    'DNS:localhost',
    'IP:127.0.0.1',
    'DNS:hooks.test',
    'DNS:rebind.test',
  ]);
  const log: Received[] = [];
  const plans = new Map<string, { queue: number[]; then: number }>();
  const server: Server = createServer(
    { key: readFileSync(keyFile), cert: readFileSync(caFile) },
    (req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const path = req.url ?? '/';
        log.push({
          path,
          headers: Object.fromEntries(Object.entries(req.headers).map(([k, v]) => [k, String(v)])),
          body: Buffer.concat(chunks).toString('utf8'),
          at: Date.now(),
        });
        const plan = plans.get(path);
        const status = plan?.queue.shift() ?? plan?.then ?? 200;
        res.writeHead(status, { 'content-type': 'text/plain' });
        res.end(status < 300 ? 'ok' : 'receiver failure');
      });
    },
  );
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
  const port = (server.address() as AddressInfo).port;
  return {
    port,
    caFile,
    url: (path, host = '127.0.0.1') => `https://${host}:${port}${path}`,
    received: (path) => log.filter((r) => r.path === path),
    answer: (path, statuses, then = 200) => plans.set(path, { queue: [...statuses], then }),
    close: () =>
      new Promise<void>((ok) => {
        server.closeAllConnections();
        server.close(() => {
          removeDir(dir);
          ok();
        });
      }),
  };
}

/** A hosts-style file for WEBHOOK_TEST_HOSTS_FILE; `set` rewrites it (the next lookup sees it). */
export function hostsFile() {
  const path = join(makeTempDir('portal-hosts-'), 'hosts');
  writeFileSync(path, '');
  return {
    path,
    set(entries: Record<string, string>) {
      writeFileSync(
        path,
        Object.entries(entries)
          .map(([name, ip]) => `${ip} ${name}\n`)
          .join(''),
      );
    },
  };
}
