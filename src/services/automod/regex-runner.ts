import { Worker } from 'node:worker_threads';
import { fromPackageRoot } from '../../core/package-root';

// Regex rules are matched on a worker thread with a deadline. RE2 already rules out
// catastrophic backtracking and the size cap bounds each rule (regex.ts), but many heavy rules
// against a long message could still add up to a noticeable pause; off the main thread that
// pause never delays other requests, and past the deadline the worker is terminated (and started
// again for the next message) instead of running on.

export type RegexJob = { key: string; patterns: string[]; caseSensitive: boolean };

/** Which rules matched (key → index of the first matching pattern), or `timeout`. */
export type RegexAnswer = { hits: Map<string, number>; failed: string[] } | 'timeout';

type Pending = { resolve: (answer: RegexAnswer) => void; timer?: NodeJS.Timeout; worker: Worker };

let worker: Worker | null = null;
/** Resolves once a worker runs: its start-up does not count against a message's deadline. */
const online = new WeakMap<Worker, Promise<void>>();
let nextId = 0;
const pending = new Map<number, Pending>();

/** Answers every job that was sent to `w` (a worker that died or was stopped). */
function settleAll(w: Worker, answer: RegexAnswer) {
  for (const [id, p] of pending) {
    if (p.worker !== w) continue;
    clearTimeout(p.timer);
    pending.delete(id);
    p.resolve(answer);
  }
}

function start(): Worker {
  // Plain JavaScript: no loader (tsx) to inherit, which would only slow its start.
  const w = new Worker(fromPackageRoot('src', 'services', 'automod', 'regex-worker.mjs'), { execArgv: [] });
  const started = new Promise<void>((ok) => w.once('online', () => ok()));
  online.set(w, started);
  // An idle worker must not keep a process (the CLI, a test run) alive.
  w.unref();
  w.on('message', (m: { id: number; hits: { key: string; index: number }[]; failed: string[] }) => {
    const p = pending.get(m.id);
    if (!p) return;
    clearTimeout(p.timer);
    pending.delete(m.id);
    p.resolve({ hits: new Map(m.hits.map((h) => [h.key, h.index])), failed: m.failed });
  });
  const lost = () => {
    if (worker === w) worker = null;
    // Whatever was in flight is answered as unchecked rather than left hanging.
    settleAll(w, 'timeout');
  };
  w.on('error', lost);
  w.on('exit', lost);
  return w;
}

/** Matches `text` against the rules' patterns within `timeoutMs`. */
export function matchRegexRules(jobs: RegexJob[], text: string, timeoutMs: number): Promise<RegexAnswer> {
  if (jobs.length === 0) return Promise.resolve({ hits: new Map(), failed: [] });
  worker ??= start();
  const w = worker;
  const id = ++nextId;
  w.postMessage({ id, rules: jobs, text });
  return new Promise((resolve) => {
    const expire = () => {
      // Everything queued behind the slow job fails with it: they share the one thread.
      if (worker === w) worker = null;
      void w.terminate();
      settleAll(w, 'timeout');
    };
    pending.set(id, { resolve, worker: w });
    void online.get(w)!.then(() => {
      const p = pending.get(id);
      if (p) p.timer = setTimeout(expire, timeoutMs);
    });
  });
}
