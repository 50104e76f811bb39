import { WebSocket } from 'ws';

// A child process that plays matchmaking users for bench/match.bench.ts, so the load generator
// never shares a process with the server. Each user holds one /ws/portal socket and enqueues over
// HTTP; the time from sending `POST /match/enqueue` to that user's `match_found` frame is recorded.
// Times are performance.timeOrigin + performance.now() (epoch ms, fractional), so the parent can
// combine several children. Driven over IPC:
//   parent → {type:"open", wsBase, users:[{token, interests, language}]} ; child → {type:"opened", failed}
//   parent → {type:"enqueue", httpBase, concurrency} ; child → {type:"enqueued", first, last, waits, missing, twice, errors}
//   parent → {type:"status", httpBase, concurrency} ; child → {type:"statused", first, last, waits, errors}
//   parent → {type:"close"}
type User = { token: string; interests: string[]; language: string | null };
type Command =
  | { type: 'open'; wsBase: string; users: User[] }
  | { type: 'enqueue'; httpBase: string; concurrency: number; timeoutMs: number }
  | { type: 'status'; httpBase: string; concurrency: number }
  | { type: 'close' };

const now = () => performance.timeOrigin + performance.now();

let users: User[] = [];
const sockets: WebSocket[] = [];
/** Per user: when the enqueue was sent, and when (and how often) match_found arrived. */
let sentAt: number[] = [];
let foundAt: number[] = [];
let foundCount: number[] = [];
let onFound: (() => void) | undefined;

function openOne(wsBase: string, index: number): Promise<boolean> {
  return new Promise((resolve) => {
    const ws = new WebSocket(`${wsBase}/ws/portal?token=${encodeURIComponent(users[index]!.token)}`, {
      perMessageDeflate: false,
    });
    ws.on('message', (data: Buffer, isBinary: boolean) => {
      if (isBinary) return;
      const text = data.toString();
      if (text.includes('"type":"ready"')) return resolve(true);
      if (!text.includes('"type":"match_found"')) return;
      foundCount[index] = (foundCount[index] ?? 0) + 1;
      if (foundCount[index] === 1) {
        foundAt[index] = now();
        onFound?.();
      }
    });
    ws.once('open', () => sockets.push(ws));
    ws.once('error', () => resolve(false));
    ws.once('unexpected-response', (_req, res) => {
      res.resume();
      resolve(false);
    });
  });
}

/** Runs `work(i)` for every user with `concurrency` workers. */
async function eachUser(concurrency: number, work: (i: number) => Promise<void>) {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(concurrency, users.length) }, async () => {
      while (next < users.length) await work(next++);
    }),
  );
}

async function post(url: string, token: string, body: unknown) {
  const res = await fetch(url, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  await res.arrayBuffer();
  return res.ok;
}

async function enqueueAll(httpBase: string, concurrency: number, timeoutMs: number) {
  sentAt = new Array(users.length).fill(0);
  foundAt = new Array(users.length).fill(0);
  foundCount = new Array(users.length).fill(0);
  let errors = 0;
  const first = now();
  await eachUser(concurrency, async (i) => {
    const user = users[i]!;
    sentAt[i] = now();
    const ok = await post(`${httpBase}/match/enqueue`, user.token, {
      interests: user.interests,
      language: user.language,
    }).catch(() => false);
    if (!ok) errors++;
  });
  // Everyone who is still waiting is paired by the server's sweeper (after the fallback).
  const everyone = () => foundCount.every((n) => n > 0);
  if (!everyone()) {
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, timeoutMs);
      onFound = () => {
        if (everyone()) {
          clearTimeout(timer);
          resolve();
        }
      };
    });
    onFound = undefined;
  }
  // Frames of doubles would arrive right after the first: give them a moment.
  await new Promise((r) => setTimeout(r, 500));
  const waits: number[] = [];
  for (let i = 0; i < users.length; i++) if (foundAt[i]) waits.push(foundAt[i]! - sentAt[i]!);
  process.send?.({
    type: 'enqueued',
    first,
    last: Math.max(...foundAt),
    waits,
    missing: foundCount.filter((n) => n === 0).length,
    twice: foundCount.filter((n) => n > 1).length,
    errors,
  });
}

async function statusAll(httpBase: string, concurrency: number) {
  const waits: number[] = [];
  let errors = 0;
  const first = now();
  await eachUser(concurrency, async (i) => {
    const started = now();
    const res = await fetch(`${httpBase}/match/status`, {
      headers: { authorization: `Bearer ${users[i]!.token}` },
    }).catch(() => null);
    if (!res?.ok) errors++;
    await res?.arrayBuffer();
    waits.push(now() - started);
  });
  process.send?.({ type: 'statused', first, last: now(), waits, errors });
}

process.on('message', (cmd: Command) => {
  if (cmd.type === 'open') {
    users = cmd.users;
    void (async () => {
      let failed = 0;
      let next = 0;
      await Promise.all(
        Array.from({ length: 100 }, async () => {
          while (next < users.length) if (!(await openOne(cmd.wsBase, next++))) failed++;
        }),
      );
      process.send?.({ type: 'opened', failed });
    })();
  } else if (cmd.type === 'enqueue') void enqueueAll(cmd.httpBase, cmd.concurrency, cmd.timeoutMs);
  else if (cmd.type === 'status') void statusAll(cmd.httpBase, cmd.concurrency);
  else if (cmd.type === 'close') {
    for (const ws of sockets) ws.terminate();
    process.exit(0);
  }
});
