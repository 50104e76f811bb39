import { fork } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { median, root, startProcess } from './lib/processes';
import { isQuick, report } from './lib/report';
import { seedUsersWithSessions } from './lib/seed';

// TCP tunnel throughput (issue #7): bytes echoed through /ws/user-connection/{id} (a tcp_tunnel
// connection, straight to the uWebSockets.js port) against the same bytes over a direct loopback
// TCP socket to the same echo server, in the same run. Portal runs in its own process, the load
// generator (bench/lib/relay-load.ts) in another; one warm-up, then ROUNDS rounds of each, medians.
const BYTES = (isQuick ? 32 : 256) * 1024 * 1024;
const ROUNDS = isQuick ? 1 : 5;

const echo = net.createServer((s) => {
  s.setNoDelay(true);
  s.on('error', () => {});
  s.pipe(s);
});
await new Promise<void>((r) => echo.listen(0, '127.0.0.1', () => r()));
const echoPort = (echo.address() as net.AddressInfo).port;

const loader = fork(join(root, 'bench/lib/relay-load.ts'), [], {
  execArgv: ['--import', 'tsx'],
  stdio: 'inherit',
});
const run = (cmd: Record<string, unknown>) =>
  new Promise<number>((resolve) => {
    loader.once('message', (m: { ms: number }) => resolve(m.ms));
    loader.send({ type: 'run', bytes: BYTES, ...cmd });
  });

const dataDir = mkdtempSync(join(tmpdir(), 'portal-bench-relay-'));
try {
  const [token] = await seedUsersWithSessions(dataDir, 1);
  const portal = await startProcess('src/main.ts', {
    DATA_DIR: dataDir,
    RATE_LIMIT_AUTH: '100000',
    WS_MESSAGES_PER_SECOND: '100000',
  });
  try {
    const wsPort = Number(portal.ready.ws_port);
    if (!wsPort) throw new Error('the server runs without a uWebSockets.js port (ws fallback)');
    const res = await fetch(`${portal.url}/api/connections`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'bench', type: 'tcp_tunnel', host: '127.0.0.1', port: echoPort }),
    });
    const { id } = (await res.json()) as { id: string };
    const relay = { mode: 'relay', url: `ws://127.0.0.1:${wsPort}/ws/user-connection/${id}?token=${token}` };
    const direct = { mode: 'direct', port: echoPort };
    await run(relay);
    await run(direct);
    const relayMs: number[] = [];
    const directMs: number[] = [];
    for (let i = 0; i < ROUNDS; i++) {
      relayMs.push(await run(relay));
      directMs.push(await run(direct));
    }
    const mbps = (ms: number) => BYTES / 2 ** 20 / (ms / 1000);
    const relayRate = mbps(median(relayMs));
    const directRate = mbps(median(directMs));
    console.log(
      `relay ${relayRate.toFixed(1)} MiB/s, direct ${directRate.toFixed(1)} MiB/s, ratio ${(relayRate / directRate).toFixed(3)}`,
    );
    report('relay.tcp', [
      {
        name: `TCP tunnel through the relay, ${BYTES / 2 ** 20} MiB echoed, MiB/s (median of ${ROUNDS})`,
        value: relayRate,
        unit: 'MiB/s',
        baseline: { name: 'direct loopback TCP to the same echo server', value: directRate },
      },
    ]);
  } finally {
    await portal.stop();
  }
} finally {
  loader.kill();
  echo.close();
  rmSync(dataDir, { recursive: true, force: true });
}
