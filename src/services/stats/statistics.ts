import { and, asc, count, eq, gt, gte, isNotNull, isNull, lte, or, type SQL, sql } from 'drizzle-orm';
import type { Db } from '../../db/client';
import { apiKeys, botCommands, bots, rooms, sessions, users } from '../../db/schema';
import { BOT_TYPE, LEVEL, STATE, TIER } from '../users/policy';

// The figures of GET /statistics/users|bots|app (API.md §3), each one small set of aggregate
// queries. Callers cache them (stats/public.ts); every figure is "as of `generated_at`".

const DAY_MS = 24 * 60 * 60 * 1000;

/** `count(*) filter (where …)` as a number (PostgreSQL counts are bigint, which drivers return as text). */
const countWhere = (condition: SQL | undefined) =>
  sql<number>`count(*) filter (where ${condition})`.mapWith(Number);

/** A Trial or Premium whose expiry passed is Basic already, even before the downgrade task ran. */
function effectiveTier(tier: number, now: Date): SQL | undefined {
  const lapsed = and(
    or(eq(users.subscriptionTier, TIER.TRIAL), eq(users.subscriptionTier, TIER.PREMIUM)),
    or(isNull(users.subscriptionExpiresAt), lte(users.subscriptionExpiresAt, now)),
  );
  if (tier === TIER.BASIC) return or(eq(users.subscriptionTier, TIER.BASIC), lapsed);
  if (tier === TIER.LIFETIME) return eq(users.subscriptionTier, TIER.LIFETIME);
  return and(eq(users.subscriptionTier, tier), gt(users.subscriptionExpiresAt, now));
}

/**
 * Distinct users active in the last 24 hours: signed in (a session created), used an API key,
 * or ran a command that a bot reported for them (executed_at in the window).
 */
async function countActiveUsers(db: Db, since: Date): Promise<number> {
  const active = db
    .select({ userId: sessions.userId })
    .from(sessions)
    .where(gte(sessions.createdAt, since))
    .union(db.select({ userId: apiKeys.userId }).from(apiKeys).where(gte(apiKeys.lastUsedAt, since)))
    .union(
      db
        .select({ userId: sql<number>`${botCommands.userId}` })
        .from(botCommands)
        .where(and(gte(botCommands.executedAt, since), isNotNull(botCommands.userId))),
    )
    .as('active');
  const [row] = await db.select({ n: count() }).from(active);
  return row?.n ?? 0;
}

export async function computeUserStatistics(db: Db, now = new Date()) {
  const day = new Date(now.getTime() - DAY_MS);
  const week = new Date(now.getTime() - 7 * DAY_MS);
  const [[row], active24h] = await Promise.all([
    db
      .select({
        total: count(),
        new24h: countWhere(gte(users.createdAt, day)),
        new7d: countWhere(gte(users.createdAt, week)),
        user: countWhere(eq(users.permissionLevel, LEVEL.USER)),
        admin: countWhere(eq(users.permissionLevel, LEVEL.ADMIN)),
        owner: countWhere(eq(users.permissionLevel, LEVEL.OWNER)),
        basic: countWhere(effectiveTier(TIER.BASIC, now)),
        trial: countWhere(effectiveTier(TIER.TRIAL, now)),
        premium: countWhere(effectiveTier(TIER.PREMIUM, now)),
        lifetime: countWhere(effectiveTier(TIER.LIFETIME, now)),
        banned: countWhere(eq(users.state, STATE.BANNED)),
        // A timeout whose end has passed restricts nobody (policy.effectiveState).
        timedOut: countWhere(
          and(
            eq(users.state, STATE.TIMEOUT),
            or(isNull(users.stateExpiresAt), gt(users.stateExpiresAt, now)),
          ),
        ),
      })
      .from(users),
    countActiveUsers(db, day),
  ]);
  const r = row!;
  return {
    total: r.total,
    active_24h: active24h,
    new_24h: r.new24h,
    new_7d: r.new7d,
    by_level: { user: r.user, admin: r.admin, owner: r.owner },
    by_tier: { basic: r.basic, trial: r.trial, premium: r.premium, lifetime: r.lifetime },
    banned: r.banned,
    timed_out: r.timedOut,
    generated_at: now.toISOString(),
  };
}

async function countCommandsSince(db: Db, since: Date | null): Promise<number> {
  const [row] = await db
    .select({ n: count() })
    .from(botCommands)
    .where(since ? gte(botCommands.executedAt, since) : undefined);
  return row?.n ?? 0;
}

async function countBotsByType(db: Db) {
  const [row] = await db
    .select({
      total: count(),
      official: countWhere(eq(bots.type, BOT_TYPE.OFFICIAL)),
      verified: countWhere(eq(bots.type, BOT_TYPE.VERIFIED)),
      community: countWhere(eq(bots.type, BOT_TYPE.COMMUNITY)),
    })
    .from(bots);
  return row!;
}

export async function computeBotStatistics(db: Db, now = new Date()) {
  const [byType, commands24h] = await Promise.all([
    countBotsByType(db),
    countCommandsSince(db, new Date(now.getTime() - DAY_MS)),
  ]);
  const { total, ...types } = byType;
  return { total, by_type: types, commands_24h: commands24h, generated_at: now.toISOString() };
}

/** Midnight UTC `days` days before `now`'s own day. */
const utcDayStart = (now: Date, daysBack: number) =>
  new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate() - daysBack));

/** Commands per bot and UTC day for the 7 days ending today (today and the 6 before); non-zero rows only. */
async function commandsPerBotPerDay(db: Db, now: Date) {
  const day = sql<string>`to_char(${botCommands.executedAt} at time zone 'UTC', 'YYYY-MM-DD')`;
  return db
    .select({ bot_id: botCommands.botId, name: bots.name, day, count: count() })
    .from(botCommands)
    .innerJoin(bots, eq(bots.id, botCommands.botId))
    .where(gte(botCommands.executedAt, utcDayStart(now, 6)))
    .groupBy(botCommands.botId, bots.name, day)
    .orderBy(asc(day), asc(botCommands.botId));
}

export async function computeAppStatistics(
  db: Db,
  build: { version: string; startedAt: Date },
  now = new Date(),
) {
  const [[userCount], botCount, commandsTotal, commands24h, perBotPerDay] = await Promise.all([
    db.select({ n: count() }).from(users),
    db.select({ n: count() }).from(bots),
    countCommandsSince(db, null),
    countCommandsSince(db, new Date(now.getTime() - DAY_MS)),
    commandsPerBotPerDay(db, now),
  ]);
  return {
    users: userCount?.n ?? 0,
    bots: botCount[0]?.n ?? 0,
    commands_total: commandsTotal,
    commands_24h: commands24h,
    commands_per_bot_per_day: perBotPerDay,
    uptime_seconds: Math.floor((now.getTime() - build.startedAt.getTime()) / 1000),
    version: build.version,
    generated_at: now.toISOString(),
  };
}

/**
 * Rooms and their shared browsers. `active_browsers` counts rooms whose browser the runtime runs
 * (cluster-wide: each node's runtime records its browsers on the room row); `node` is this node's
 * own runtime, live, with its capacity.
 */
export async function computeChatStatistics(
  db: Db,
  runtime: { activeCount(): number; capacity: number },
  now = new Date(),
) {
  const [row] = await db
    .select({
      total: countWhere(eq(rooms.kind, 'room')),
      direct: countWhere(eq(rooms.kind, 'direct')),
      running: countWhere(eq(rooms.browserState, 'running')),
      new24h: countWhere(gte(rooms.createdAt, new Date(now.getTime() - DAY_MS))),
    })
    .from(rooms);
  const r = row!;
  return {
    total_chats: r.total,
    direct_chats: r.direct,
    active_browsers: r.running,
    new_chats_24h: r.new24h,
    node: { active_browsers: runtime.activeCount(), capacity: runtime.capacity },
    generated_at: now.toISOString(),
  };
}
