import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { Agent, request } from 'node:https';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { makeTempDir, removeDir } from './env';
import { opensslPair } from './pem-pairs';

// Let's Encrypt's test ACME server (Debian package `pebble`) and its mock DNS server, on loopback:
// every name resolves to 127.0.0.1 (unless a test points one elsewhere), HTTP-01 validation
// connects to the port the test names — the Portal test server's. Pebble's own TLS certificate is
// made here; it is what ACME_CA_FILE trusts.

export function pebbleSkipReason(): string | undefined {
  for (const tool of ['pebble', 'pebble-challtestsrv', 'openssl']) {
    try {
      execFileSync('sh', ['-c', `command -v ${tool}`], { stdio: 'ignore' });
    } catch {
      return `${tool} is not installed (apt-get install pebble openssl): it is the local ACME server`;
    }
  }
  return undefined;
}

export const freePort = () =>
  new Promise<number>((resolve, reject) => {
    const probe = createServer();
    probe.once('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const { port } = probe.address() as { port: number };
      probe.close(() => resolve(port));
    });
  });

export type Pebble = {
  directoryUrl: string;
  caFile: string;
  /** Points `host` at `address` in the mock DNS. */
  setAddress(host: string, address: string): Promise<void>;
  close(): Promise<void>;
};

/**
 * Ports and pebble's certificate are made first, so the Portal server can be configured
 * (ACME_DIRECTORY_URL, ACME_CA_FILE) before pebble starts with the Portal port to validate on.
 */
export async function preparePebble() {
  const ports = {
    acme: await freePort(),
    management: await freePort(),
    dns: await freePort(),
    dnsManagement: await freePort(),
  };
  const dir = makeTempDir('portal-pebble-');
  const pair = opensslPair({ cn: 'localhost', san: 'DNS:localhost,IP:127.0.0.1', days: 2 });
  const caFile = join(dir, 'cert.pem');
  writeFileSync(caFile, pair.cert);
  writeFileSync(join(dir, 'key.pem'), pair.key);
  return { ports, dir, caFile, directoryUrl: `https://127.0.0.1:${ports.acme}/dir` };
}

const started = (proc: ChildProcess, what: string) =>
  new Promise<void>((resolve, reject) => {
    proc.once('exit', (code) => reject(new Error(`${what} exited (${code})`)));
    proc.once('spawn', () => resolve());
  });

async function waitForDirectory(url: string, ca: string, timeoutMs = 30_000) {
  const agent = new Agent({ ca });
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const ok = await new Promise<boolean>((resolve) => {
      const req = request(url, { agent }, (res) => {
        res.resume();
        resolve(res.statusCode === 200);
      });
      req.on('error', () => resolve(false));
      req.end();
    });
    if (ok) return;
    if (Date.now() > deadline) throw new Error(`pebble did not answer at ${url}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

export async function startPebble(
  prepared: Awaited<ReturnType<typeof preparePebble>>,
  httpPort: number,
): Promise<Pebble> {
  const { ports, dir, caFile, directoryUrl } = prepared;
  writeFileSync(
    join(dir, 'config.json'),
    JSON.stringify({
      pebble: {
        listenAddress: `127.0.0.1:${ports.acme}`,
        managementListenAddress: `127.0.0.1:${ports.management}`,
        certificate: join(dir, 'cert.pem'),
        privateKey: join(dir, 'key.pem'),
        httpPort,
        tlsPort: await freePort(),
        ocspResponderURL: '',
        externalAccountBindingRequired: false,
      },
    }),
  );
  const dns = spawn(
    'pebble-challtestsrv',
    [
      '-dns01',
      `127.0.0.1:${ports.dns}`,
      '-http01',
      '',
      '-https01',
      '',
      '-tlsalpn01',
      '',
      '-management',
      `127.0.0.1:${ports.dnsManagement}`,
      '-defaultIPv4',
      '127.0.0.1',
      '-defaultIPv6',
      '',
    ],
    { stdio: 'ignore' },
  );
  await started(dns, 'pebble-challtestsrv');
  const pebble = spawn(
    'pebble',
    ['-config', join(dir, 'config.json'), '-dnsserver', `127.0.0.1:${ports.dns}`],
    {
      env: {
        PATH: process.env.PATH,
        PEBBLE_VA_NOSLEEP: '1',
        PEBBLE_WFE_NONCEREJECT: '0',
        PEBBLE_AUTHZREUSE: '0',
      },
      stdio: 'ignore',
    },
  );
  await started(pebble, 'pebble');
  await waitForDirectory(directoryUrl, readFileSync(caFile, 'utf8'));
  return {
    directoryUrl,
    caFile,
    async setAddress(host, address) {
      const res = await fetch(`http://127.0.0.1:${ports.dnsManagement}/add-a`, {
        method: 'POST',
        body: JSON.stringify({ host: `${host}.`, addresses: [address] }),
      });
      if (!res.ok) throw new Error(`challtestsrv add-a: ${res.status}`);
    },
    async close() {
      for (const proc of [pebble, dns]) {
        if (proc.exitCode !== null) continue;
        const exited = new Promise((r) => proc.once('exit', r));
        proc.kill('SIGTERM');
        await exited;
      }
      removeDir(dir);
    },
  };
}
