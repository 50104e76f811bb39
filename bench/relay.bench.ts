import { mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { newKeyPair, startSshServer } from '../tests/helpers/ssh-server';
import { forkEntry, median, type Proc, startProcess } from './lib/processes';
import { isQuick, report } from './lib/report';
import { seedUsersWithSessions } from './lib/seed';

// The relays of /ws/user-connection/{id} (issue #7), on one Portal process (its own process, as
// are the load generators), straight to the uWebSockets.js port:
// - relay.tcp: TCP tunnel throughput — bytes echoed through a tcp_tunnel connection against the
//   same bytes over a direct loopback TCP socket to the same echo server (bench/lib/relay-load.ts).
// - relay.ssh: SSH keystroke round trip — one keystroke in, its echo out, sequentially, through
//   the terminal JSON protocol against a direct ssh2 session to the same local ssh2 server, whose
//   shell echoes input (bench/lib/ssh-rtt.ts); p50/p99.
// - relay.concurrency: RELAYS users (relays are capped per user) each open a tcp_tunnel at once
//   (bench/lib/ws-clients.ts); time until all are open and their backend connections accepted,
//   against opening RELAYS plain /ws/portal sockets of the same users on the same server (the
//   relay's extra work: ownership lookup and the TCP connect).
// Warm-up rounds first (a quick run skips some), then rounds of each, medians.
const BYTES = (isQuick ? 32 : 256) * 1024 * 1024;
const TCP_ROUNDS = isQuick ? 1 : 5;
const SSH_COUNT = isQuick ? 300 : 3000;
const SSH_WARMUP = isQuick ? 50 : 300;
const SSH_USER = 'bench';
const SSH_PASSWORD = 'bench-ssh-password';
const RELAYS = 200;
const OPEN_ROUNDS = isQuick ? 1 : 5;

type Ctx = { portal: Proc; wsPort: number; tokens: string[] };

/** One command to a load generator; a generator that exits or stalls fails the run instead of hanging it. */
const call = <T>(child: ReturnType<typeof forkEntry>, cmd: Record<string, unknown>, timeoutMs = 300_000) =>
  new Promise<T>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`no answer to ${String(cmd.type)} in ${timeoutMs} ms`)),
      timeoutMs,
    );
    const exited = (code: number | null) => reject(new Error(`load generator exited with ${code}`));
    child.once('exit', exited);
    child.once('message', (m: T) => {
      clearTimeout(timer);
      child.off('exit', exited);
      resolve(m);
    });
    child.send(cmd);
  });

async function createConnection(ctx: Ctx, token: string, body: Record<string, unknown>) {
  const res = await fetch(`${ctx.portal.url}/api/connections`, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: JSON.stringify({ name: 'bench', ...body }),
  });
  if (!res.ok) throw new Error(`POST /api/connections: ${res.status} ${await res.text()}`);
  const { id } = (await res.json()) as { id: string };
  return `ws://127.0.0.1:${ctx.wsPort}/ws/user-connection/${id}?token=${token}`;
}

async function tcpThroughput(ctx: Ctx, echoPort: number) {
  const loader = forkEntry('bench/lib/relay-load.ts');
  try {
    const run = async (cmd: Record<string, unknown>) => {
      const r = await call<{ type: 'done'; ms: number } | { type: 'failed'; message: string }>(loader, {
        type: 'run',
        bytes: BYTES,
        ...cmd,
      });
      if (r.type === 'failed') throw new Error(`${String(cmd.mode)} run failed: ${r.message}`);
      return r.ms;
    };
    const url = await createConnection(ctx, ctx.tokens[0]!, {
      type: 'tcp_tunnel',
      host: '127.0.0.1',
      port: echoPort,
    });
    const relay = { mode: 'relay', url };
    const direct = { mode: 'direct', port: echoPort };
    await run(relay);
    await run(direct);
    const relayMs: number[] = [];
    const directMs: number[] = [];
    for (let i = 0; i < TCP_ROUNDS; i++) {
      relayMs.push(await run(relay));
      directMs.push(await run(direct));
    }
    const mbps = (ms: number) => BYTES / 2 ** 20 / (ms / 1000);
    report('relay.tcp', [
      {
        name: `TCP tunnel through the relay, ${BYTES / 2 ** 20} MiB echoed, MiB/s (median of ${TCP_ROUNDS})`,
        value: mbps(median(relayMs)),
        unit: 'MiB/s',
        baseline: { name: 'direct loopback TCP to the same echo server', value: mbps(median(directMs)) },
      },
    ]);
  } finally {
    loader.kill();
  }
}

async function sshRoundTrip(ctx: Ctx) {
  const sshRoot = mkdtempSync(join(tmpdir(), 'portal-bench-ssh-root-'));
  const ssh = await startSshServer({
    root: sshRoot,
    username: SSH_USER,
    password: SSH_PASSWORD,
    publicKey: newKeyPair().public,
  });
  const client = forkEntry('bench/lib/ssh-rtt.ts');
  try {
    const run = async (cmd: Record<string, unknown>) =>
      (await call<{ samples: number[] }>(client, { type: 'run', ...cmd })).samples;
    const url = await createConnection(ctx, ctx.tokens[0]!, {
      type: 'ssh',
      host: '127.0.0.1',
      port: ssh.port,
      config: { username: SSH_USER, password: SSH_PASSWORD },
    });
    const relay = { mode: 'relay', url };
    const direct = { mode: 'direct', port: ssh.port, user: SSH_USER, password: SSH_PASSWORD };
    await run({ ...relay, count: SSH_WARMUP });
    await run({ ...direct, count: SSH_WARMUP });
    const viaRelay = await run({ ...relay, count: SSH_COUNT });
    const viaSsh = await run({ ...direct, count: SSH_COUNT });
    const pct = (values: number[], p: number) => {
      const sorted = [...values].sort((a, b) => a - b);
      return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))]!;
    };
    report(
      'relay.ssh',
      (
        [
          ['p50', 0.5],
          ['p99', 0.99],
        ] as const
      ).map(([name, p]) => ({
        name: `SSH relay keystroke round trip ${name} (${SSH_COUNT} sequential)`,
        value: pct(viaRelay, p),
        unit: 'ms',
        baseline: { name: `direct ssh2 session ${name}`, value: pct(viaSsh, p) },
      })),
    );
  } finally {
    client.kill();
    await ssh.close();
    rmSync(sshRoot, { recursive: true, force: true });
  }
}

async function concurrentOpens(ctx: Ctx) {
  let accepted = 0;
  const backend = net.createServer((s) => {
    accepted++;
    s.on('error', () => {});
  });
  await new Promise<void>((r) => backend.listen(0, '127.0.0.1', () => r()));
  const backendPort = (backend.address() as net.AddressInfo).port;
  const openAll = async (urls: string[], waitForBackends: boolean) => {
    const child = forkEntry('bench/lib/ws-clients.ts');
    const open = (list: string[]) =>
      call<{ opened: number; failed: number }>(child, {
        type: 'open',
        urls: list,
        concurrency: Math.max(1, list.length),
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
  };
  try {
    const relayUrls = await Promise.all(
      ctx.tokens.map((token) =>
        createConnection(ctx, token, { type: 'tcp_tunnel', host: '127.0.0.1', port: backendPort }),
      ),
    );
    const portalUrls = ctx.tokens.map((t) => `ws://127.0.0.1:${ctx.wsPort}/ws/portal?token=${t}`);
    if (!isQuick) {
      await openAll(relayUrls, true);
      await openAll(portalUrls, false);
    }
    const relayMs: number[] = [];
    const portalMs: number[] = [];
    for (let i = 0; i < OPEN_ROUNDS; i++) {
      relayMs.push(await openAll(relayUrls, true));
      portalMs.push(await openAll(portalUrls, false));
    }
    report('relay.concurrency', [
      {
        name: `${RELAYS} concurrent relays (${RELAYS} users) open with their TCP backends, ms (median of ${OPEN_ROUNDS})`,
        value: median(relayMs),
        unit: 'ms',
        baseline: { name: `${RELAYS} /ws/portal sockets of the same users`, value: median(portalMs) },
      },
    ]);
  } finally {
    backend.close();
  }
}

const echo = net.createServer((s) => {
  s.setNoDelay(true);
  s.on('error', () => {});
  s.pipe(s);
});
await new Promise<void>((r) => echo.listen(0, '127.0.0.1', () => r()));
const dataDir = mkdtempSync(join(tmpdir(), 'portal-bench-relay-'));
try {
  const tokens = await seedUsersWithSessions(dataDir, RELAYS);
  const portal = await startProcess('src/main.ts', {
    DATA_DIR: dataDir,
    RATE_LIMIT_AUTH: '100000000',
    WS_MESSAGES_PER_SECOND: '100000',
  });
  try {
    const wsPort = Number(portal.ready.ws_port);
    if (!wsPort) throw new Error('the server runs without a uWebSockets.js port (ws fallback)');
    const ctx = { portal, wsPort, tokens };
    await tcpThroughput(ctx, (echo.address() as net.AddressInfo).port);
    await sshRoundTrip(ctx);
    await concurrentOpens(ctx);
  } finally {
    await portal.stop();
  }
} finally {
  echo.close();
  rmSync(dataDir, { recursive: true, force: true });
}
