import { fork } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { median, root, startProcess } from './lib/processes';
import { isQuick, report } from './lib/report';
import { seedUsersWithSessions } from './lib/seed';

// 200 concurrent relays (issue #7): 200 users (relays are capped per user), each with a tcp_tunnel
// connection to one TCP server; a child process (bench/lib/ws-clients.ts) opens all 200 relays at
// once on the uWebSockets.js port and holds them. Figure: time until all 200 are open and their
// backend connections accepted, against opening 200 plain /ws/portal sockets of the same users on
// the same server (the relay's extra work: ownership lookup and the TCP connect). Medians of rounds.
const RELAYS = 200;
const ROUNDS = isQuick ? 1 : 5;

let accepted = 0;
const backend = net.createServer((s) => {
  accepted++;
  s.on('error', () => {});
});
await new Promise<void>((r) => backend.listen(0, '127.0.0.1', () => r()));
const backendPort = (backend.address() as net.AddressInfo).port;

async function openAll(urls: string[], waitForBackends: boolean) {
  const child = fork(join(root, 'bench/lib/ws-clients.ts'), [], {
    execArgv: ['--import', 'tsx'],
    stdio: 'inherit',
  });
  const open = (list: string[]) =>
    new Promise<{ opened: number; failed: number }>((resolve) => {
      child.once('message', (m: { opened: number; failed: number }) => resolve(m));
      child.send({ type: 'open', urls: list, concurrency: Math.max(1, list.length) });
    });
  await open([]); // the child has booted: its start-up is not timed
  const before = accepted;
  const started = performance.now();
  const result = await open(urls);
  while (waitForBackends && accepted - before < urls.length) await new Promise((r) => setTimeout(r, 1));
  const ms = performance.now() - started;
  child.send({ type: 'close' });
  await new Promise((r) => child.once('exit', r));
  if (result.failed > 0) throw new Error(`${result.failed} of ${urls.length} sockets failed to open`);
  return ms;
}

const dataDir = mkdtempSync(join(tmpdir(), 'portal-bench-relays-'));
try {
  const tokens = await seedUsersWithSessions(dataDir, RELAYS);
  const portal = await startProcess('src/main.ts', { DATA_DIR: dataDir, RATE_LIMIT_AUTH: '100000000' });
  try {
    const wsPort = Number(portal.ready.ws_port);
    if (!wsPort) throw new Error('the server runs without a uWebSockets.js port (ws fallback)');
    const relayUrls: string[] = [];
    for (const token of tokens) {
      const res = await fetch(`${portal.url}/api/connections`, {
        method: 'POST',
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
        body: JSON.stringify({ name: 'bench', type: 'tcp_tunnel', host: '127.0.0.1', port: backendPort }),
      });
      const { id } = (await res.json()) as { id: string };
      relayUrls.push(`ws://127.0.0.1:${wsPort}/ws/user-connection/${id}?token=${token}`);
    }
    const portalUrls = tokens.map((t) => `ws://127.0.0.1:${wsPort}/ws/portal?token=${t}`);
    await openAll(relayUrls, true);
    await openAll(portalUrls, false);
    const relayMs: number[] = [];
    const portalMs: number[] = [];
    for (let i = 0; i < ROUNDS; i++) {
      relayMs.push(await openAll(relayUrls, true));
      portalMs.push(await openAll(portalUrls, false));
    }
    report('relay.concurrency', [
      {
        name: `${RELAYS} concurrent relays (${RELAYS} users) open with their TCP backends, ms (median of ${ROUNDS})`,
        value: median(relayMs),
        unit: 'ms',
        baseline: { name: `${RELAYS} /ws/portal sockets of the same users`, value: median(portalMs) },
      },
    ]);
  } finally {
    await portal.stop();
  }
} finally {
  backend.close();
  rmSync(dataDir, { recursive: true, force: true });
}
