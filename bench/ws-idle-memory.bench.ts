import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { forkEntry, type Proc, preloadArgs, startProcess } from './lib/processes';
import { isQuick, report } from './lib/report';
import { seedUsersWithSessions } from './lib/seed';

// Resident memory per idle WebSocket on /ws/portal (authenticated, one user per socket, straight
// to the uWebSockets.js port as a reverse proxy would connect) against a bare uWebSockets.js
// server and a bare `ws` server holding the same number of idle sockets, in the same run.
// A warm-up batch is opened first and kept open, so one-off growth (database pages, JIT, pools)
// is not charged to the measured sockets; the figure is the growth of the measured batch.
const count = isQuick ? 600 : 10_000;
const warmup = isQuick ? 200 : 2000;
const GC_ARGS = ['--expose-gc', ...preloadArgs('bench/lib/gc-on-signal.ts')];

const rssOf = (pid: number) => {
  const line = readFileSync(`/proc/${pid}/status`, 'utf8').match(/VmRSS:\s+(\d+) kB/);
  return Number(line?.[1] ?? 0) * 1024;
};

async function holdSockets(urls: string[]): Promise<{ stop(): void; opened: number; failed: number }> {
  const child = forkEntry('bench/lib/ws-clients.ts');
  const result = await new Promise<{ opened: number; failed: number }>((resolve) => {
    child.once('message', (m: { opened: number; failed: number }) => resolve(m));
    child.send({ type: 'open', urls, concurrency: 200 });
  });
  return { ...result, stop: () => child.send({ type: 'close' }) };
}

/** Resident memory after a full collection (the server runs with bench/lib/gc-on-signal.ts). */
async function settledRss(server: Proc) {
  for (let i = 0; i < (isQuick ? 1 : 3); i++) {
    server.proc.kill('SIGUSR2');
    await sleep(isQuick ? 200 : 700);
  }
  return rssOf(server.proc.pid!);
}

async function perSocket(server: Proc, urls: string[]) {
  const warm = await holdSockets(urls.slice(0, warmup));
  const measured = urls.slice(warmup);
  const before = await settledRss(server);
  const held = await holdSockets(measured);
  const failed = warm.failed + held.failed;
  if (failed > 0) throw new Error(`${failed} of ${urls.length} sockets failed to open`);
  await sleep(isQuick ? 200 : 1000);
  const after = await settledRss(server);
  held.stop();
  warm.stop();
  return (after - before) / measured.length;
}

const dataDir = mkdtempSync(join(tmpdir(), 'portal-bench-ws-'));
// All three servers start side by side (an idle server costs the others nothing); each is measured alone.
const baselines = Promise.all([
  startProcess('bench/baselines/bare-uws.ts', {}, 'baseline listening', GC_ARGS),
  startProcess('bench/baselines/bare-ws.ts', {}, 'baseline listening', GC_ARGS),
]);
try {
  const tokens = await seedUsersWithSessions(dataDir, count + warmup);
  const portal = await startProcess(
    'src/main.ts',
    { DATA_DIR: dataDir, LOG_LEVEL: 'info' },
    'portal listening',
    GC_ARGS,
  );
  let portalBytes: number;
  try {
    const wsPort = Number(portal.ready.ws_port);
    if (!wsPort) throw new Error('the server runs without a uWebSockets.js port (ws fallback)');
    portalBytes = await perSocket(
      portal,
      tokens.map((t) => `ws://127.0.0.1:${wsPort}/ws/portal?token=${t}`),
    );
  } finally {
    await portal.stop();
  }
  const [uws, ws] = await baselines;
  const uwsBytes = await perSocket(
    uws,
    Array.from({ length: count + warmup }, () => `${uws.url.replace('http', 'ws')}/`),
  ).finally(() => uws.stop());
  const wsBytes = await perSocket(
    ws,
    Array.from({ length: count + warmup }, () => `${ws.url.replace('http', 'ws')}/`),
  ).finally(() => ws.stop());
  report('ws.idle-memory', [
    {
      name: `bytes per idle /ws/portal socket (${count.toLocaleString('en-US')} sockets)`,
      value: portalBytes,
      unit: 'B',
      baseline: { name: 'bare uWebSockets.js', value: uwsBytes },
    },
    {
      name: `bytes per idle socket on bare ws (${count.toLocaleString('en-US')} sockets)`,
      value: wsBytes,
      unit: 'B',
      baseline: { name: 'bare uWebSockets.js', value: uwsBytes },
    },
  ]);
} finally {
  // A failure before the baselines were measured must not leave them running.
  for (const p of await baselines.catch(() => [])) await p.stop();
  rmSync(dataDir, { recursive: true, force: true });
}
