import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { forkEntry, median, startProcess } from './lib/processes';
import { isQuick, report } from './lib/report';
import { seedUsersWithSessions } from './lib/seed';

// Matchmaking (API.md §5) measured on the server, as users meet it: a Portal process on its
// embedded database, USERS users held by CLIENTS load-generator processes (bench/lib/
// match-clients.ts), each user with one /ws/portal socket. Every user sends `POST /match/enqueue`
// (CONCURRENCY requests in flight per client) with preferences that mostly do not fit at once:
// two of 12 topics for two thirds of them, a language for three quarters; after
// MATCH_FALLBACK_SECONDS (2 here) anyone fits, so the queue builds up and the server's sweeper
// pairs what enqueue alone could not. Figures: pairs per second (from the first enqueue sent to
// the last `match_found` received) and p50/p99 time-to-match per user (enqueue sent →
// `match_found` on that user's socket). Every user must get exactly one `match_found`.
//
// Baseline, same run, same server, same users and sockets: each user sends `GET /match/status`
// instead (authentication, one queue read, no pairing) at the same concurrency. Its requests/s
// over two (two users per pair) is the rate at which this server could even accept enqueues one
// by one; its p50/p99 is one request's latency under that load.

const USERS = isQuick ? 200 : 10_000;
const CLIENTS = 2;
const CONCURRENCY = 25;
const TOPICS = 12;
const FALLBACK_SECONDS = 2;

type Enqueued = {
  first: number;
  last: number;
  waits: number[];
  missing: number;
  twice: number;
  errors: number;
};
type Statused = { first: number; last: number; waits: number[]; errors: number };

const reply = <T>(c: ChildProcess, type: string) =>
  new Promise<T>((resolve, reject) => {
    const on = (m: { type: string }) => {
      if (m.type !== type) return;
      c.off('message', on);
      resolve(m as T);
    };
    c.on('message', on);
    c.once('exit', (code) => reject(new Error(`match client exited with ${code}`)));
  });

const percentile = (sorted: number[], p: number) =>
  sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;

/** User i's preferences: a third want nobody in particular, the rest 2 of 12 topics; most a language. */
const preferencesOf = (i: number) => ({
  interests: i % 3 === 0 ? [] : [`t${i % TOPICS}`, `t${(i * 7 + 3) % TOPICS}`],
  language: [null, 'de', 'en', 'en'][i % 4] ?? null,
});

const dataDir = mkdtempSync(join(tmpdir(), 'portal-bench-match-'));
const children: ChildProcess[] = [];
try {
  const tokens = await seedUsersWithSessions(dataDir, USERS);
  const portal = await startProcess('src/main.ts', {
    DATA_DIR: dataDir,
    MATCH_FALLBACK_SECONDS: String(FALLBACK_SECONDS),
    RATE_LIMIT_AUTH: '100000000',
    RATE_LIMIT_PUBLIC: '100000000',
  });
  try {
    const wsPort = Number(portal.ready.ws_port) || new URL(portal.url).port;
    const wsBase = `ws://127.0.0.1:${wsPort}`;
    const users = tokens.map((token, i) => ({ token, ...preferencesOf(i) }));
    for (let c = 0; c < CLIENTS; c++) {
      children.push(forkEntry('bench/lib/match-clients.ts'));
    }
    const opened = await Promise.all(
      children.map((child, c) => {
        const done = reply<{ failed: number }>(child, 'opened');
        child.send({ type: 'open', wsBase, users: users.filter((_, i) => i % CLIENTS === c) });
        return done;
      }),
    );
    const failed = opened.reduce((n, o) => n + o.failed, 0);
    if (failed) throw new Error(`${failed} of ${USERS} /ws/portal sockets failed to open`);

    // Baseline first (the queue is empty then, as it is after the run); its first round warms up
    // the server (JIT, caches) for both measurements and is discarded.
    const statusRound = () =>
      Promise.all(
        children.map((child) => {
          const done = reply<Statused>(child, 'statused');
          child.send({ type: 'status', httpBase: portal.url, concurrency: CONCURRENCY });
          return done;
        }),
      );
    await statusRound();
    const statused = await statusRound();
    const statusErrors = statused.reduce((n, s) => n + s.errors, 0);
    if (statusErrors) throw new Error(`${statusErrors} GET /match/status calls failed`);
    const statusSeconds =
      (Math.max(...statused.map((s) => s.last)) - Math.min(...statused.map((s) => s.first))) / 1000;
    const statusWaits = statused.flatMap((s) => s.waits).sort((a, b) => a - b);

    const enqueued = await Promise.all(
      children.map((child) => {
        const done = reply<Enqueued>(child, 'enqueued');
        child.send({ type: 'enqueue', httpBase: portal.url, concurrency: CONCURRENCY, timeoutMs: 300_000 });
        return done;
      }),
    );
    const errors = enqueued.reduce((n, e) => n + e.errors, 0);
    const missing = enqueued.reduce((n, e) => n + e.missing, 0);
    const twice = enqueued.reduce((n, e) => n + e.twice, 0);
    if (errors) throw new Error(`${errors} enqueue calls failed`);
    if (twice) throw new Error(`${twice} users got match_found more than once`);
    // An odd user out waits for a partner forever; anyone else missing is a failure.
    if (missing > USERS % 2) throw new Error(`${missing} users were never matched`);
    const seconds =
      (Math.max(...enqueued.map((e) => e.last)) - Math.min(...enqueued.map((e) => e.first))) / 1000;
    const pairs = (USERS - missing) / 2;
    const waits = enqueued.flatMap((e) => e.waits).sort((a, b) => a - b);
    const perSecond = pairs / seconds;
    const statusPerSecond = USERS / statusSeconds;
    console.log(
      `${pairs} pairs in ${seconds.toFixed(1)} s; time-to-match p50 ${percentile(waits, 50).toFixed(0)} ms, p99 ${percentile(waits, 99).toFixed(0)} ms, max ${waits.at(-1)!.toFixed(0)} ms; median ${median(waits).toFixed(0)} ms`,
    );
    const label = `${USERS.toLocaleString('en-US')} users over HTTP + /ws/portal, ${CLIENTS}×${CONCURRENCY} in flight, fallback ${FALLBACK_SECONDS} s`;
    const baseline = 'GET /match/status per user, same load';
    report('match.pairing', [
      {
        name: `pairs/s (${label})`,
        value: perSecond,
        unit: 'pairs/s',
        baseline: { name: `${baseline} (req/s ÷ 2)`, value: statusPerSecond / 2 },
      },
      {
        name: `p50 enqueue → match_found (${label})`,
        value: percentile(waits, 50),
        unit: 'ms',
        baseline: { name: `${baseline}: p50 latency`, value: percentile(statusWaits, 50) },
      },
      {
        name: `p99 enqueue → match_found (${label})`,
        value: percentile(waits, 99),
        unit: 'ms',
        baseline: { name: `${baseline}: p99 latency`, value: percentile(statusWaits, 99) },
      },
    ]);
  } finally {
    for (const child of children) child.send({ type: 'close' });
    await portal.stop();
  }
} finally {
  rmSync(dataDir, { recursive: true, force: true });
}
