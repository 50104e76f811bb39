import type { AppDeps } from '../../deps';
import { type CachedValue, cachedValue } from './cache';
import {
  computeAppStatistics,
  computeBotStatistics,
  computeChatStatistics,
  computeUserStatistics,
} from './statistics';

// GET /statistics/* (PUBLIC tier, anyone may call them at 120/min per IP): each answer is cached
// in this process for STATS_CACHE_SECONDS, and one computation serves every concurrent caller.

type Caches = {
  users: CachedValue<Awaited<ReturnType<typeof computeUserStatistics>>>;
  bots: CachedValue<Awaited<ReturnType<typeof computeBotStatistics>>>;
  app: CachedValue<Awaited<ReturnType<typeof computeAppStatistics>>>;
  chats: CachedValue<Awaited<ReturnType<typeof computeChatStatistics>>>;
};

// Keyed by the server's dependencies, so two servers in one process (tests) never share figures.
const cachesByDeps = new WeakMap<AppDeps, Caches>();

function cachesFor(deps: AppDeps): Caches {
  let caches = cachesByDeps.get(deps);
  if (!caches) {
    const ttlMs = deps.env.STATS_CACHE_SECONDS * 1000;
    const db = deps.database.db;
    caches = {
      users: cachedValue(ttlMs, () => computeUserStatistics(db)),
      bots: cachedValue(ttlMs, () => computeBotStatistics(db)),
      app: cachedValue(ttlMs, () => computeAppStatistics(db, deps.build)),
      chats: cachedValue(ttlMs, () => computeChatStatistics(db, deps.browsers)),
    };
    cachesByDeps.set(deps, caches);
  }
  return caches;
}

export const getUserStatistics = (deps: AppDeps) => cachesFor(deps).users.get();
export const getBotStatistics = (deps: AppDeps) => cachesFor(deps).bots.get();
export const getAppStatistics = (deps: AppDeps) => cachesFor(deps).app.get();
export const getChatStatistics = (deps: AppDeps) => cachesFor(deps).chats.get();

/**
 * Bus presence sets that other features maintain: the /ws/portal hub keeps `online-users`, the
 * streams feature `live-streams`. Cluster-wide with Redis.
 */
export const PRESENCE_SET = { onlineUsers: 'online-users', liveStreams: 'live-streams' } as const;

/** GET /api/stats (seed 002). */
export async function getLiveStats(deps: Pick<AppDeps, 'bus'>) {
  const [liveStreams, onlineUsers] = await Promise.all([
    deps.bus.presenceCount(PRESENCE_SET.liveStreams),
    deps.bus.presenceCount(PRESENCE_SET.onlineUsers),
  ]);
  return { live_streams: liveStreams, online_users: onlineUsers };
}
