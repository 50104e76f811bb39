import { randomUUID } from 'node:crypto';
import { Redis, type RedisOptions } from 'ioredis';
import {
  assertCost,
  assertPositiveInt,
  type BusLog,
  consoleLog,
  deliver,
  encodeMessage,
  windowStartOf,
} from './local';
import type { Bus, BusHandler, CounterStore } from './types';

// The cluster Bus: every node holds one command connection and one subscriber connection (a
// connection in subscriber mode can run nothing else). Keys: <prefix>counter:<key>,
// <prefix>presence:<set>; channels: <prefix>topic:<topic>.

const DEFAULT_PREFIX = 'portal:';

// The window start lives in a hash field rather than in the key name so reset() is one DEL, and so a
// node whose clock lags cannot reopen a window that a faster node already moved past.
// Expiry only collects garbage; the grace second covers clock skew between nodes.
const HIT_LUA = `
local start = tonumber(ARGV[1])
local stored = tonumber(redis.call('HGET', KEYS[1], 'w'))
if stored == nil or stored < start then
  redis.call('HSET', KEYS[1], 'w', ARGV[1], 'n', 0)
  stored = start
end
local n = redis.call('HINCRBY', KEYS[1], 'n', ARGV[3])
redis.call('PEXPIRE', KEYS[1], math.max(1, stored + tonumber(ARGV[2]) - tonumber(ARGV[4]) + 1000))
return {n, stored}
`;

// The sliding-window log of CounterStore.slide: a sorted set of admitted hits scored by Redis's own
// clock (one clock for every node). A hit exactly `window` old still counts, as in slideLog.
const SLIDE_LUA = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local limit = tonumber(ARGV[1])
local window = tonumber(ARGV[2])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', '(' .. (now - window))
local n = redis.call('ZCARD', KEYS[1])
if n < limit then
  redis.call('ZADD', KEYS[1], now, ARGV[3])
  redis.call('PEXPIRE', KEYS[1], window + 1000)
  return {1, n + 1, 0}
end
local pivot = redis.call('ZRANGE', KEYS[1], n - limit, n - limit, 'WITHSCORES')
return {0, n, tonumber(pivot[2]) + window - now + 1}
`;

// Dropping expired members on add keeps a busy set bounded even if nobody reads it; the key itself
// expires with its longest-lived member so abandoned sets disappear.
const PRESENCE_ADD_LUA = `
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[3])
redis.call('ZADD', KEYS[1], ARGV[2], ARGV[1])
local last = redis.call('ZRANGE', KEYS[1], -1, -1, 'WITHSCORES')
redis.call('PEXPIRE', KEYS[1], math.max(1, tonumber(last[2]) - tonumber(ARGV[3])))
`;

type Scripted = Redis & {
  portalCounterHit(
    key: string,
    start: number,
    windowMs: number,
    cost: number,
    now: number,
  ): Promise<[number, number]>;
  portalPresenceAdd(key: string, member: string, expiresAt: number, now: number): Promise<unknown>;
  portalSlide(
    key: string,
    limit: number,
    windowMs: number,
    member: string,
  ): Promise<[number, number, number]>;
};

function withScripts(redis: Redis): Scripted {
  // defineCommand sends EVALSHA and falls back to EVAL after a server restart flushed the script cache.
  if (!('portalCounterHit' in redis)) {
    redis.defineCommand('portalCounterHit', { numberOfKeys: 1, lua: HIT_LUA });
    redis.defineCommand('portalPresenceAdd', { numberOfKeys: 1, lua: PRESENCE_ADD_LUA });
    redis.defineCommand('portalSlide', { numberOfKeys: 1, lua: SLIDE_LUA });
  }
  return redis as Scripted;
}

export function createRedisCounterStore(redis: Redis, prefix = DEFAULT_PREFIX): CounterStore {
  const r = withScripts(redis);
  const keyOf = (key: string) => `${prefix}counter:${key}`;
  return {
    async hit(key, windowMs, cost = 1) {
      assertPositiveInt('windowMs', windowMs);
      assertCost(cost);
      const now = Date.now();
      const [count, start] = await r.portalCounterHit(
        keyOf(key),
        windowStartOf(now, windowMs),
        windowMs,
        cost,
        now,
      );
      return { count: Number(count), resetAt: Number(start) + windowMs };
    },
    async slide(key, limit, windowMs) {
      assertPositiveInt('windowMs', windowMs);
      assertPositiveInt('limit', limit);
      // The member only has to be unique; two hits in one millisecond are two members.
      const [allowed, count, retryAfterMs] = await r.portalSlide(
        `${prefix}slide:${key}`,
        limit,
        windowMs,
        randomUUID(),
      );
      return { allowed: allowed === 1, count: Number(count), retryAfterMs: Number(retryAfterMs) };
    },
    async reset(key) {
      await r.del(keyOf(key), `${prefix}slide:${key}`);
    },
  };
}

/** Hides the password of a redis:// URL in messages. */
function safeUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return 'redis://(unparsable URL)';
  }
}

function connect(url: string, name: string, log: BusLog): Redis {
  const options: RedisOptions = {
    connectionName: name,
    // Fail a command after a couple of reconnect attempts instead of hanging a request for ever.
    maxRetriesPerRequest: 2,
    // Commands issued while the first connection is still being made wait for it instead of failing.
    enableOfflineQueue: true,
    connectTimeout: 5_000,
  };
  const redis = new Redis(url, options);
  // ioredis emits 'error' on every reconnect attempt; log each distinct failure once per outage.
  let lastError: string | undefined;
  redis.on('error', (err: Error) => {
    if (err.message === lastError) return;
    lastError = err.message;
    log.warn({ err, connection: name, url: safeUrl(url) }, 'redis connection error');
  });
  redis.on('ready', () => {
    if (lastError !== undefined) log.warn({ connection: name }, 'redis connection restored');
    lastError = undefined;
  });
  return redis;
}

async function closeConnection(redis: Redis): Promise<void> {
  try {
    await redis.quit();
  } catch {
    redis.disconnect();
  }
}

type TopicState = {
  handlers: Set<{ handler: BusHandler }>;
  subscribed: boolean;
  /** SUBSCRIBE/UNSUBSCRIBE for one topic run one after the other, so ref-counting cannot race. */
  chain: Promise<void>;
};

export async function createRedisBus(
  url: string,
  opts: { keyPrefix?: string; log?: BusLog } = {},
): Promise<Bus> {
  const prefix = opts.keyPrefix ?? DEFAULT_PREFIX;
  const log = opts.log ?? consoleLog;
  const cmd = withScripts(connect(url, 'portal-bus', log));
  const sub = connect(url, 'portal-bus-sub', log);
  try {
    await Promise.all([cmd.ping(), sub.ping()]);
  } catch (err) {
    cmd.disconnect();
    sub.disconnect();
    throw new Error(`Redis unreachable at ${safeUrl(url)}: ${(err as Error).message}`, { cause: err });
  }

  const channelPrefix = `${prefix}topic:`;
  const presenceKey = (set: string) => `${prefix}presence:${set}`;
  const topics = new Map<string, TopicState>();
  let closed = false;

  sub.on('message', (channel: string, json: string) => {
    if (!channel.startsWith(channelPrefix)) return;
    const topic = channel.slice(channelPrefix.length);
    const state = topics.get(topic);
    if (!state) return;
    // A handler removed by an earlier handler of this same message must not receive it.
    for (const entry of [...state.handlers]) {
      if (state.handlers.has(entry)) deliver(entry.handler, json, topic, log);
    }
  });

  const enqueue = (state: TopicState, op: () => Promise<void>): Promise<void> => {
    const run = state.chain.then(op);
    state.chain = run.catch(() => undefined);
    return run;
  };

  const ensureOpen = () => {
    if (closed) throw new Error('Bus is closed');
  };

  // Expired members are dropped in the same transaction as the read, so no reader ever sees them.
  const readPresence = async (set: string, read: 'zrange' | 'zcard'): Promise<unknown> => {
    const key = presenceKey(set);
    const tx = cmd.multi().zremrangebyscore(key, '-inf', Date.now());
    const res = await (read === 'zcard' ? tx.zcard(key) : tx.zrange(key, 0, -1)).exec();
    const reply = res?.[1];
    if (!reply) throw new Error('Presence read was aborted');
    if (reply[0]) throw reply[0];
    return reply[1];
  };

  return {
    kind: 'redis',
    counters: createRedisCounterStore(cmd, prefix),

    async publish(topic, message) {
      ensureOpen();
      await cmd.publish(channelPrefix + topic, encodeMessage(message));
    },

    async subscribe(topic, handler) {
      ensureOpen();
      let state = topics.get(topic);
      if (!state) {
        state = { handlers: new Set(), subscribed: false, chain: Promise.resolve() };
        topics.set(topic, state);
      }
      const s = state;
      const entry = { handler };
      s.handlers.add(entry);
      try {
        await enqueue(s, async () => {
          if (s.subscribed || s.handlers.size === 0) return;
          await sub.subscribe(channelPrefix + topic);
          s.subscribed = true;
        });
      } catch (err) {
        s.handlers.delete(entry);
        if (s.handlers.size === 0 && !s.subscribed && topics.get(topic) === s) topics.delete(topic);
        throw err;
      }

      return async () => {
        // Dropped locally at once: no delivery after this call even if Redis is slow to confirm.
        if (!s.handlers.delete(entry) || closed) return;
        await enqueue(s, async () => {
          if (s.handlers.size > 0 || !s.subscribed) return;
          await sub.unsubscribe(channelPrefix + topic);
          s.subscribed = false;
          if (s.handlers.size === 0 && topics.get(topic) === s) topics.delete(topic);
        });
      };
    },

    async presenceAdd(set, member, ttlMs) {
      ensureOpen();
      assertPositiveInt('ttlMs', ttlMs);
      const now = Date.now();
      await cmd.portalPresenceAdd(presenceKey(set), member, now + ttlMs, now);
    },

    async presenceRemove(set, member) {
      ensureOpen();
      await cmd.zrem(presenceKey(set), member);
    },

    async presenceMembers(set) {
      ensureOpen();
      return (await readPresence(set, 'zrange')) as string[];
    },

    async presenceCount(set) {
      ensureOpen();
      return Number(await readPresence(set, 'zcard'));
    },

    async ping() {
      ensureOpen();
      // A readiness probe must answer now, not after the offline queue's retries.
      if (cmd.status !== 'ready' || sub.status !== 'ready') {
        throw new Error(`Redis is not connected (commands: ${cmd.status}, subscriber: ${sub.status})`);
      }
      await cmd.ping();
    },

    async close() {
      if (closed) return;
      closed = true;
      topics.clear();
      await Promise.all([closeConnection(cmd), closeConnection(sub)]);
    },
  };
}
