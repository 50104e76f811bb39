import type { ChildProcess } from 'node:child_process';
import { cpSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { forkEntry, type Proc, startProcess } from './lib/processes';
import { type Figure, isQuick, report } from './lib/report';
import { seedUsersWithSessions } from './lib/seed';

// /ws/chat fan-out (issue #8): one channel ("general") with `receivers` joined clients and
// `senders` more that post to it; delivered messages per second and p50/p99 end-to-end latency,
// on Portal's uWebSockets.js transport and on its `ws` transport, against a bare uWebSockets.js
// pub/sub server (the ceiling) and a bare `ws` broadcast loop, all driven by the same client code
// (bench/lib/chat-clients.ts, in a child process) in the same run.
//
// Load: closed-loop rather than a fixed rate. Each sender keeps WINDOW messages in flight and
// sends the next when every receiver has its earlier one, so every server is driven at what it
// can deliver to all receivers without an unbounded queue (a fixed rate either under-loads the
// ceiling or collapses the slower servers, and then the figure is the queue, not the server).
// Latency is therefore latency at saturation with SENDERS × WINDOW messages outstanding. All
// clients of a run live in one child process (bench/lib/chat-clients.ts), which is what closes the
// loop; on a small machine that process can be the limit for the bare servers. A warm-up runs
// before the measured window; the send rate limits (CHAT_RATE_*, WS_MESSAGES_PER_SECOND,
// RATE_LIMIT_*) are lifted so the figure is the fan-out path, not the limiter. Sent-at stamps and
// arrival times are read from the same clock in the same process. LOG_LEVEL stays info: the ready
// line is an info log.
const RECEIVERS = isQuick ? 50 : 1000;
const SENDERS = 10;
const WINDOW = 2;
const WARMUP_MS = isQuick ? 500 : 3000;
const MEASURE_MS = isQuick ? 1500 : 10_000;

type Stats = { sent: number; count: number; buckets: [number, number][]; bucketMs: number };
type Run = { perSecond: number; p50: number; p99: number; sent: number };

function child(): ChildProcess {
  return forkEntry('bench/lib/chat-clients.ts');
}

const reply = <T>(c: ChildProcess, type: string) =>
  new Promise<T>((resolve) => {
    const on = (m: { type: string }) => {
      if (m.type !== type) return;
      c.off('message', on);
      resolve(m as T);
    };
    c.on('message', on);
  });

async function open(c: ChildProcess, urls: string[], receivers: number, mode: 'portal' | 'bare') {
  const done = reply<{ opened: number; failed: number }>(c, 'opened');
  c.send({ type: 'open', urls, receivers, mode });
  const r = await done;
  if (r.failed) throw new Error(`${r.failed} of ${urls.length} chat sockets failed to open or join`);
}

const percentile = (buckets: [number, number][], bucketMs: number, total: number, p: number) => {
  let seen = 0;
  for (const [b, c] of buckets) {
    seen += c;
    if (seen >= total * p) return (b + 0.5) * bucketMs;
  }
  return Number.NaN;
};

async function measure(receiverUrls: string[], senderUrls: string[], mode: 'portal' | 'bare'): Promise<Run> {
  const clients = child();
  try {
    await open(clients, [...receiverUrls, ...senderUrls], receiverUrls.length, mode);
    clients.send({ type: 'start', window: WINDOW });
    await sleep(WARMUP_MS);
    clients.send({ type: 'reset' });
    const started = performance.now();
    await sleep(MEASURE_MS);
    const stats = reply<Stats>(clients, 'stats');
    clients.send({ type: 'stop' });
    const r = await stats;
    const seconds = (performance.now() - started) / 1000;
    return {
      perSecond: r.count / seconds,
      p50: percentile(r.buckets, r.bucketMs, r.count, 0.5),
      p99: percentile(r.buckets, r.bucketMs, r.count, 0.99),
      sent: r.sent / seconds,
    };
  } finally {
    clients.send({ type: 'close' });
  }
}

const LIFTED = {
  CHAT_RATE_MESSAGES: '100000',
  CHAT_RATE_WINDOW_SECONDS: '1',
  WS_MESSAGES_PER_SECOND: '100000',
  RATE_LIMIT_AUTH: '100000000',
  RATE_LIMIT_PUBLIC: '100000000',
  RATE_LIMIT_BOT: '100000000',
};

const startPortal = (dataDir: string, transport: 'uws' | 'ws') =>
  startProcess('src/main.ts', { ...LIFTED, DATA_DIR: dataDir, WS_TRANSPORT: transport });

/** Starts both servers side by side; if one fails, the other is stopped. */
async function startBoth(uwsDataDir: string, wsDataDir: string): Promise<[Proc, Proc]> {
  const started = await Promise.allSettled([startPortal(uwsDataDir, 'uws'), startPortal(wsDataDir, 'ws')]);
  const failed = started.find((s) => s.status === 'rejected');
  if (!failed) return started.map((s) => (s as PromiseFulfilledResult<Proc>).value) as [Proc, Proc];
  for (const s of started) if (s.status === 'fulfilled') await s.value.stop();
  throw failed.reason;
}

async function portalRun(tokens: string[], portal: Proc, transport: 'uws' | 'ws') {
  try {
    const port = transport === 'uws' ? Number(portal.ready.ws_port) : new URL(portal.url).port;
    if (!port) throw new Error('the server runs without a uWebSockets.js port (ws fallback)');
    const urls = tokens.map((t) => `ws://127.0.0.1:${port}/ws/chat?token=${t}`);
    return await measure(urls.slice(0, RECEIVERS), urls.slice(RECEIVERS), 'portal');
  } finally {
    await portal.stop();
  }
}

async function bareRun(server: Proc) {
  try {
    const url = `${server.url.replace('http', 'ws')}/`;
    return await measure(Array(RECEIVERS).fill(url), Array(SENDERS).fill(url), 'bare');
  } finally {
    await server.stop();
  }
}

const dataDir = mkdtempSync(join(tmpdir(), 'portal-bench-chat-'));
const wsDataDir = mkdtempSync(join(tmpdir(), 'portal-bench-chat-ws-'));
// The baselines start now, side by side with the seeding; idle, they cost the Portal runs nothing.
const baselines = Promise.all([
  startProcess('bench/baselines/bare-uws.ts', {}, 'baseline listening'),
  startProcess('bench/baselines/bare-ws.ts', {}, 'baseline listening'),
]);
try {
  const tokens = await seedUsersWithSessions(dataDir, RECEIVERS + SENDERS);
  // The embedded database admits one process: the ws run gets a copy of the seeded DATA_DIR, and
  // both servers start side by side (the idle one's timers cost the measured one nothing to speak of).
  cpSync(dataDir, wsDataDir, { recursive: true });
  const [uwsPortal, wsPortal] = await startBoth(dataDir, wsDataDir);
  const onUws = await portalRun(tokens, uwsPortal, 'uws').catch(async (e) => {
    await wsPortal.stop();
    throw e;
  });
  const onWs = await portalRun(tokens, wsPortal, 'ws');
  const [uwsServer, wsServer] = await baselines;
  const bareUws = await bareRun(uwsServer);
  const bareWs = await bareRun(wsServer);
  const label = `${RECEIVERS.toLocaleString('en-US')} receivers, ${SENDERS} senders × ${WINDOW} in flight`;
  const ceiling = { name: 'bare uWebSockets.js pub/sub', value: bareUws.perSecond };
  const runs: [string, Run, Figure['baseline']][] = [
    ['/ws/chat on uWebSockets.js', onUws, ceiling],
    ['/ws/chat on ws', onWs, ceiling],
    ['bare ws broadcast', bareWs, ceiling],
  ];
  const figures: Figure[] = [];
  for (const [name, run, baseline] of runs) {
    figures.push({ name: `${name}: deliveries/s (${label})`, value: run.perSecond, unit: 'msg/s', baseline });
  }
  figures.push({
    name: '/ws/chat uWebSockets.js vs ws transport: deliveries/s',
    value: onUws.perSecond,
    unit: 'msg/s',
    baseline: { name: '/ws/chat on ws', value: onWs.perSecond },
  });
  for (const [name, run] of [...runs, ['bare uWebSockets.js pub/sub', bareUws] as const]) {
    figures.push({ name: `${name}: p50 latency`, value: run.p50, unit: 'ms' });
    figures.push({ name: `${name}: p99 latency`, value: run.p99, unit: 'ms' });
  }
  console.log(
    `sent/s: uws ${onUws.sent.toFixed(0)}, ws ${onWs.sent.toFixed(0)}, bare uws ${bareUws.sent.toFixed(0)}, bare ws ${bareWs.sent.toFixed(0)}`,
  );
  // A run that delivered nothing has no percentiles; JSON would turn NaN into null.
  report(
    'ws.chat-fanout',
    figures.filter((f) => Number.isFinite(f.value) && (!f.baseline || f.baseline.value > 0)),
  );
} finally {
  // A failed Portal run must not leave the baselines running.
  for (const p of await baselines.catch(() => [])) await p.stop();
  rmSync(dataDir, { recursive: true, force: true });
  rmSync(wsDataDir, { recursive: true, force: true });
}
