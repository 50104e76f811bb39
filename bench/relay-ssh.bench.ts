import { fork } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { newKeyPair, startSshServer } from '../tests/helpers/ssh-server';
import { root, startProcess } from './lib/processes';
import { isQuick, report } from './lib/report';
import { seedUsersWithSessions } from './lib/seed';

// SSH relay round-trip latency (issue #7): one keystroke in, its echo out, sequentially, through
// /ws/user-connection/{id} (terminal JSON protocol, uWebSockets.js port) against the same
// keystrokes over a direct ssh2 session to the same local ssh2 server (its shell echoes input).
// Portal and the client (bench/lib/ssh-rtt.ts) run in their own processes; warm-up, then p50/p99.
const COUNT = isQuick ? 300 : 3000;
const WARMUP = isQuick ? 50 : 300;
const USER = 'bench';
const PASSWORD = 'bench-ssh-password';

const sshRoot = mkdtempSync(join(tmpdir(), 'portal-bench-ssh-root-'));
const ssh = await startSshServer({
  root: sshRoot,
  username: USER,
  password: PASSWORD,
  publicKey: newKeyPair().public,
});
const client = fork(join(root, 'bench/lib/ssh-rtt.ts'), [], {
  execArgv: ['--import', 'tsx'],
  stdio: 'inherit',
});
const run = (cmd: Record<string, unknown>) =>
  new Promise<number[]>((resolve) => {
    client.once('message', (m: { samples: number[] }) => resolve(m.samples));
    client.send({ type: 'run', ...cmd });
  });
const pct = (values: number[], p: number) => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))]!;
};

const dataDir = mkdtempSync(join(tmpdir(), 'portal-bench-ssh-'));
try {
  const [token] = await seedUsersWithSessions(dataDir, 1);
  const portal = await startProcess('src/main.ts', { DATA_DIR: dataDir, RATE_LIMIT_AUTH: '100000' });
  try {
    const wsPort = Number(portal.ready.ws_port);
    if (!wsPort) throw new Error('the server runs without a uWebSockets.js port (ws fallback)');
    const res = await fetch(`${portal.url}/api/connections`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify({
        name: 'bench',
        type: 'ssh',
        host: '127.0.0.1',
        port: ssh.port,
        config: { username: USER, password: PASSWORD },
      }),
    });
    const { id } = (await res.json()) as { id: string };
    const relay = { mode: 'relay', url: `ws://127.0.0.1:${wsPort}/ws/user-connection/${id}?token=${token}` };
    const direct = { mode: 'direct', port: ssh.port, user: USER, password: PASSWORD };
    await run({ ...relay, count: WARMUP });
    await run({ ...direct, count: WARMUP });
    const viaRelay = await run({ ...relay, count: COUNT });
    const viaSsh = await run({ ...direct, count: COUNT });
    const figures = [
      ['p50', 0.5],
      ['p99', 0.99],
    ] as const;
    report(
      'relay.ssh',
      figures.map(([name, p]) => ({
        name: `SSH relay keystroke round trip ${name} (${COUNT} sequential)`,
        value: pct(viaRelay, p),
        unit: 'ms',
        baseline: { name: `direct ssh2 session ${name}`, value: pct(viaSsh, p) },
      })),
    );
  } finally {
    await portal.stop();
  }
} finally {
  client.kill();
  await ssh.close();
  rmSync(dataDir, { recursive: true, force: true });
  rmSync(sshRoot, { recursive: true, force: true });
}
