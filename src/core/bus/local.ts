import type { Bus, BusHandler, CounterStore, SlideResult } from './types';

// The in-process Bus for a single node. It mirrors the Redis one on purpose (asynchronous delivery,
// a JSON copy per handler, epoch-aligned windows) so code tested on one behaves the same on the other.

export type BusLog = { warn(obj: object, msg?: string): void };

/** Used when the caller passes no logger: a failing handler must be visible, never fatal. */
export const consoleLog: BusLog = { warn: (obj, msg) => console.warn(msg ?? 'bus warning', obj) };

/** Memory is reclaimed by a sweep at most this often, piggy-backed on writes (no timer to leak). */
const SWEEP_INTERVAL_MS = 30_000;

/** Throws for what Redis could not carry, so a message that works locally also works in cluster mode. */
export function encodeMessage(message: unknown): string {
  const json = JSON.stringify(message);
  if (json === undefined) throw new TypeError('Bus message must be JSON-serialisable');
  return json;
}

export function assertPositiveInt(name: string, value: number): void {
  if (!Number.isSafeInteger(value) || value <= 0) {
    throw new RangeError(`${name} must be a positive integer (got ${value})`);
  }
}

/** `cost` 0 is allowed: it reads the current count without adding to it. */
export function assertCost(cost: number): void {
  if (!Number.isSafeInteger(cost) || cost < 0) {
    throw new RangeError(`cost must be a non-negative integer (got ${cost})`);
  }
}

export const windowStartOf = (now: number, windowMs: number) => Math.floor(now / windowMs) * windowMs;

/** Runs each handler on its own copy; one failing handler does not starve the others. */
export function deliver(handler: BusHandler, json: string, topic: string, log: BusLog): void {
  try {
    handler(JSON.parse(json), topic);
  } catch (err) {
    log.warn({ err, topic }, 'bus handler threw');
  }
}

/**
 * One step of a sliding-window log (`times`: admitted hits, oldest first, pruned in place). Hits
 * older than `windowMs` no longer count; one exactly `windowMs` old still does, so no closed span
 * of `windowMs` holds more than `limit` (the Redis script applies the same rule).
 */
export function slideLog(times: number[], t: number, limit: number, windowMs: number): SlideResult {
  let expired = 0;
  while (expired < times.length && times[expired]! < t - windowMs) expired++;
  times.splice(0, expired);
  if (times.length < limit) {
    times.push(t);
    return { allowed: true, count: times.length, retryAfterMs: 0 };
  }
  return {
    allowed: false,
    count: times.length,
    retryAfterMs: times[times.length - limit]! + windowMs - t + 1,
  };
}

export function createLocalCounterStore(opts: { now?: () => number } = {}): CounterStore {
  const now = opts.now ?? Date.now;
  const windows = new Map<string, { start: number; resetAt: number; count: number }>();
  const logs = new Map<string, { times: number[]; windowMs: number }>();
  let lastSweep = now();

  const sweep = (t: number) => {
    if (t - lastSweep < SWEEP_INTERVAL_MS) return;
    lastSweep = t;
    for (const [key, w] of windows) if (w.resetAt <= t) windows.delete(key);
    for (const [key, log] of logs) if ((log.times.at(-1) ?? 0) < t - log.windowMs) logs.delete(key);
  };

  return {
    async hit(key, windowMs, cost = 1) {
      assertPositiveInt('windowMs', windowMs);
      assertCost(cost);
      const t = now();
      sweep(t);
      const start = windowStartOf(t, windowMs);
      let w = windows.get(key);
      // Only a newer window replaces the stored one: a clock stepping back must not reopen a window
      // (the Redis store follows the same rule for nodes whose clocks lag).
      if (!w || w.start < start) {
        w = { start, resetAt: start + windowMs, count: 0 };
        windows.set(key, w);
      }
      w.count += cost;
      return { count: w.count, resetAt: w.resetAt };
    },
    async slide(key, limit, windowMs) {
      assertPositiveInt('windowMs', windowMs);
      assertPositiveInt('limit', limit);
      const t = now();
      sweep(t);
      let log = logs.get(key);
      if (!log) {
        log = { times: [], windowMs };
        logs.set(key, log);
      }
      log.windowMs = windowMs;
      return slideLog(log.times, t, limit, windowMs);
    },
    async reset(key) {
      windows.delete(key);
      logs.delete(key);
    },
  };
}

type Subscription = { handler: BusHandler; active: boolean };

export function createLocalBus(opts: { log?: BusLog } = {}): Bus {
  const log = opts.log ?? consoleLog;
  const topics = new Map<string, Set<Subscription>>();
  const presence = new Map<string, Map<string, number>>();
  const counters = createLocalCounterStore();
  let lastSweep = Date.now();
  let closed = false;

  // Same failure as the Redis bus after close(), so a use-after-close bug shows up on one node too.
  const ensureOpen = () => {
    if (closed) throw new Error('Bus is closed');
  };

  const liveMembers = (set: string, now: number): Map<string, number> | undefined => {
    const members = presence.get(set);
    if (!members) return undefined;
    for (const [member, expiresAt] of members) if (expiresAt <= now) members.delete(member);
    if (members.size === 0) presence.delete(set);
    return members.size === 0 ? undefined : members;
  };

  const sweepPresence = (now: number) => {
    if (now - lastSweep < SWEEP_INTERVAL_MS) return;
    lastSweep = now;
    for (const set of [...presence.keys()]) liveMembers(set, now);
  };

  return {
    kind: 'local',
    counters,

    async publish(topic, message) {
      ensureOpen();
      const json = encodeMessage(message);
      const subs = topics.get(topic);
      if (!subs) return;
      // Subscribers at publish time receive it, unless they unsubscribe before delivery (as with Redis,
      // where an unsubscribed handler is dropped locally at once).
      const targets = [...subs];
      queueMicrotask(() => {
        for (const sub of targets) if (sub.active) deliver(sub.handler, json, topic, log);
      });
    },

    async subscribe(topic, handler) {
      ensureOpen();
      const sub: Subscription = { handler, active: true };
      let subs = topics.get(topic);
      if (!subs) {
        subs = new Set();
        topics.set(topic, subs);
      }
      subs.add(sub);
      return async () => {
        sub.active = false;
        const current = topics.get(topic);
        if (!current) return;
        current.delete(sub);
        if (current.size === 0) topics.delete(topic);
      };
    },

    async presenceAdd(set, member, ttlMs) {
      ensureOpen();
      assertPositiveInt('ttlMs', ttlMs);
      const now = Date.now();
      sweepPresence(now);
      let members = presence.get(set);
      if (!members) {
        members = new Map();
        presence.set(set, members);
      }
      members.set(member, now + ttlMs);
    },

    async presenceRemove(set, member) {
      ensureOpen();
      const members = presence.get(set);
      if (!members) return;
      members.delete(member);
      if (members.size === 0) presence.delete(set);
    },

    async presenceMembers(set) {
      ensureOpen();
      return [...(liveMembers(set, Date.now())?.keys() ?? [])];
    },

    async presenceCount(set) {
      ensureOpen();
      return liveMembers(set, Date.now())?.size ?? 0;
    },

    async ping() {
      ensureOpen();
    },

    async close() {
      closed = true;
      for (const subs of topics.values()) for (const sub of subs) sub.active = false;
      topics.clear();
      presence.clear();
    },
  };
}
