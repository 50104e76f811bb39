import { Worker } from 'node:worker_threads';

// Regex rules are matched on a worker thread with a deadline. RE2 already rules out
// catastrophic backtracking and the size cap bounds each rule (regex.ts), but many heavy rules
// against a long message could still add up to a noticeable pause; off the main thread that
// pause never delays other requests, and past the deadline the worker is terminated (and started
// again for the next message) instead of running on.

export type RegexJob = { key: string; patterns: string[]; caseSensitive: boolean };

/** Which rules matched (key → index of the first matching pattern), or `timeout`. */
export type RegexAnswer = { hits: Map<string, number>; failed: string[] } | 'timeout';

type Pending = { resolve: (answer: RegexAnswer) => void; timer: NodeJS.Timeout; worker: Worker };

let worker: Worker | null = null;
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
  const w = new Worker(new URL('./regex-worker.mjs', import.meta.url));
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
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      // Everything queued behind the slow job fails with it: they share the one thread.
      if (worker === w) worker = null;
      void w.terminate();
      settleAll(w, 'timeout');
    }, timeoutMs);
    pending.set(id, { resolve, timer, worker: w });
    w.postMessage({ id, rules: jobs, text });
  });
}
