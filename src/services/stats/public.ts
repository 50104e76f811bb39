import { and, count, eq } from 'drizzle-orm';
import { streams } from '../../db/schema';
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

/** Bus presence set the /ws/portal and /ws/chat hubs keep (cluster-wide with Redis). */
export const PRESENCE_SET = { onlineUsers: 'online-users' } as const;

/** GET /api/stats (seed 002): live public streams (from the database) and users online. */
export async function getLiveStats(deps: Pick<AppDeps, 'bus' | 'database'>) {
  const [[live], onlineUsers] = await Promise.all([
    deps.database.db
      .select({ n: count() })
      .from(streams)
      .where(and(eq(streams.isPublic, true), eq(streams.isLive, 1))),
    deps.bus.presenceCount(PRESENCE_SET.onlineUsers),
  ]);
  return { live_streams: live?.n ?? 0, online_users: onlineUsers };
}
