import { and, asc, count, desc, eq, like, lt, or, type SQL, sql } from 'drizzle-orm';
import type { Db } from '../../db/client';
import { auditLog, punishments, users } from '../../db/schema';
import type { Actor, UserActor } from '../auth/actor';
import { requireUser, type UserRow } from './accounts';
import { LEVEL } from './policy';
import { fullProfile, ownProfile, publicProfile, subscriptionOf } from './views';

export type Page = { limit: number; offset: number };

/**
 * GET /users/me and GET /api/me. The row read with the caller's credential in this same request
 * is current, so it is used when given instead of a second query.
 */
export async function getOwnProfile(db: Db, opts: { userId: number; loaded?: UserRow | undefined }) {
  const row = opts.loaded?.id === opts.userId ? opts.loaded : await requireUser(db, opts.userId);
  return ownProfile(row);
}

/** GET /users/me/subscription */
export async function getOwnSubscription(db: Db, opts: { userId: number }) {
  return subscriptionOf(await requireUser(db, opts.userId));
}

/** GET /users/me/punishments: the caller's own moderation history, newest first. */
export async function listOwnPunishments(db: Db, opts: { userId: number } & Page) {
  const mine = eq(punishments.userId, opts.userId);
  const [rows, [total]] = await Promise.all([
    db
      .select()
      .from(punishments)
      .where(mine)
      .orderBy(desc(punishments.createdAt), desc(punishments.id))
      .limit(opts.limit)
      .offset(opts.offset),
    db.select({ n: count() }).from(punishments).where(mine),
  ]);
  return {
    punishments: rows.map((p) => ({
      id: p.id,
      kind: p.kind,
      reason: p.reason,
      expires_at: p.expiresAt?.toISOString() ?? null,
      created_at: p.createdAt.toISOString(),
    })),
    total: total?.n ?? 0,
    limit: opts.limit,
    offset: opts.offset,
  };
}

/** Admin and Owner callers (users, keys of such users, or the CLI's system owner) see everything. */
const isAdminViewer = (viewer: Actor | null): viewer is Exclude<Actor, { kind: 'bot' }> =>
  viewer !== null && viewer.kind !== 'bot' && viewer.level >= LEVEL.ADMIN;

/** Grants, revocations and trials of one user as written to the audit log, newest first. */
export async function listSubscriptionHistory(db: Db, opts: { userId: number }) {
  const rows = await db
    .select()
    .from(auditLog)
    .where(
      and(
        eq(auditLog.targetType, 'user'),
        eq(auditLog.targetId, String(opts.userId)),
        like(auditLog.action, 'subscription.%'),
      ),
    )
    .orderBy(desc(auditLog.createdAt), desc(auditLog.id))
    .limit(500);
  return rows.map((r) => ({
    id: r.id,
    action: r.action,
    actor: r.actorLabel,
    reason: r.reason,
    details: r.details,
    created_at: r.createdAt.toISOString(),
  }));
}

/** GET /users/{id}: the public profile, or for Admin+ the full detail with subscription history (seed 003). */
export async function getUserProfile(db: Db, opts: { viewer: Actor | null; id: number }) {
  const user = await requireUser(db, opts.id);
  if (!isAdminViewer(opts.viewer)) return publicProfile(user);
  return {
    ...fullProfile(user),
    subscription_history: await listSubscriptionHistory(db, { userId: user.id }),
  };
}

/** `%`, `_` and the escape character itself match literally. */
export const escapeLike = (s: string) => s.replace(/[\\%_]/g, (c) => `\\${c}`);

/** Case-insensitive substring match on username or nickname. */
function matchesNameOrNickname(q: string): SQL {
  const pattern = `%${escapeLike(q)}%`;
  return or(
    sql`${users.username} ILIKE ${pattern} ESCAPE '\\'`,
    sql`${users.nickname} ILIKE ${pattern} ESCAPE '\\'`,
  )!;
}

/** Exact username matches first, then alphabetical; usernames are unique without regard to case. */
const searchOrder = (q: string) => [
  desc(sql`lower(${users.username}) = lower(${q})`),
  asc(sql`lower(${users.username})`),
  asc(users.id),
];

/**
 * GET /users/search: public profiles for everyone. Admin+ get full details, but only of users
 * strictly below their level; Owners see everyone (seed 003).
 */
export async function searchUsers(db: Db, opts: { viewer: UserActor; q: string } & Page) {
  const admin = isAdminViewer(opts.viewer);
  const where =
    admin && opts.viewer.level < LEVEL.OWNER
      ? and(matchesNameOrNickname(opts.q), lt(users.permissionLevel, opts.viewer.level))!
      : matchesNameOrNickname(opts.q);
  const [rows, [total]] = await Promise.all([
    db
      .select()
      .from(users)
      .where(where)
      .orderBy(...searchOrder(opts.q))
      .limit(opts.limit)
      .offset(opts.offset),
    db.select({ n: count() }).from(users).where(where),
  ]);
  return {
    users: rows.map((u) => (admin ? fullProfile(u) : publicProfile(u))),
    total: total?.n ?? 0,
    limit: opts.limit,
    offset: opts.offset,
  };
}

export const CHAT_SEARCH_LIMIT = 20;

/** GET /api/chat/users/search: id, username and nickname only, for DM and member pickers. */
export async function searchChatUsers(db: Db, opts: { q: string }) {
  const rows = await db
    .select({ id: users.id, username: users.username, nickname: users.nickname })
    .from(users)
    .where(matchesNameOrNickname(opts.q))
    .orderBy(...searchOrder(opts.q))
    .limit(CHAT_SEARCH_LIMIT);
  return { users: rows };
}
