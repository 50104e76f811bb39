import { and, asc, eq } from 'drizzle-orm';
import { AppError } from '../../core/errors';
import type { Db } from '../../db/client';
import { botUserLinks, users } from '../../db/schema';
import { writeAudit } from '../audit/audit';
import type { BotActor } from '../auth/actor';
import { findUserByUsername, isUniqueViolation, type UserRow } from '../users/accounts';
import { effectiveState, hasPremium, STATE } from '../users/policy';
import { publicProfile } from '../users/views';

// GET /bot/users/{user_id} and its update (API.md §2): a bot sees and changes only users linked to
// it; any other id is 404 "User not found", so a bot cannot probe which ids exist.

/**
 * The public profile plus what a bot needs to serve the user: the effective state (seed 003:
 * a timed-out user "cannot execute commands"), premium access, and the user's identities on this
 * bot's platform.
 */
export function linkedUserView(user: UserRow, platformUserIds: string[], now = new Date()) {
  const state = effectiveState(user.state, user.stateExpiresAt, now);
  return {
    ...publicProfile(user),
    state,
    state_expires_at: state === STATE.TIMEOUT ? (user.stateExpiresAt?.toISOString() ?? null) : null,
    has_premium: hasPremium(user.subscriptionTier, user.subscriptionExpiresAt, now),
    platform_user_ids: platformUserIds,
  };
}

async function requireLinkedUser(db: Db, botId: number, userId: number) {
  const rows = await db
    .select({ user: users, platformUserId: botUserLinks.platformUserId })
    .from(botUserLinks)
    .innerJoin(users, eq(users.id, botUserLinks.userId))
    .where(and(eq(botUserLinks.botId, botId), eq(botUserLinks.userId, userId)))
    .orderBy(asc(botUserLinks.createdAt), asc(botUserLinks.platformUserId));
  const first = rows[0];
  if (!first) throw new AppError('NOT_FOUND', 'User not found');
  return { user: first.user, platformUserIds: rows.map((r) => r.platformUserId) };
}

/** GET /bot/users/{user_id} */
export async function getLinkedUser(db: Db, opts: { botId: number; userId: number }) {
  const { user, platformUserIds } = await requireLinkedUser(db, opts.botId, opts.userId);
  return { user: linkedUserView(user, platformUserIds) };
}

/**
 * POST /bot/users/{user_id}/update: username (same rules and case-insensitive uniqueness as
 * everywhere) and/or avatar emoji (null clears). Audited with the bot as actor.
 */
export async function updateLinkedUser(
  db: Db,
  opts: { bot: BotActor; userId: number; username?: string | undefined; avatar?: string | null | undefined },
) {
  const { user, platformUserIds } = await requireLinkedUser(db, opts.bot.botId, opts.userId);
  if (opts.username !== undefined && opts.username.toLowerCase() !== user.username.toLowerCase()) {
    const taken = await findUserByUsername(db, opts.username);
    if (taken && taken.id !== user.id) throw new AppError('CONFLICT', 'Username is already taken');
  }
  const changes = {
    ...(opts.username !== undefined && { username: opts.username }),
    ...(opts.avatar !== undefined && { avatarEmoji: opts.avatar || null }),
  };
  let updated: UserRow | undefined;
  try {
    [updated] = await db
      .update(users)
      .set({ ...changes, updatedAt: new Date() })
      .where(eq(users.id, user.id))
      .returning();
  } catch (err) {
    // Two renames racing for one name: the unique index settles it.
    if (isUniqueViolation(err)) throw new AppError('CONFLICT', 'Username is already taken');
    throw err;
  }
  if (!updated) throw new AppError('NOT_FOUND', 'User not found');
  await writeAudit(db, {
    actor: { userId: null, label: `bot:${opts.bot.name}` },
    action: 'bot.user_update',
    targetType: 'user',
    targetId: user.id,
    details: {
      bot_id: opts.bot.botId,
      ...(opts.username !== undefined && { username: { from: user.username, to: updated.username } }),
      ...(opts.avatar !== undefined && { avatar_emoji: { from: user.avatarEmoji, to: updated.avatarEmoji } }),
    },
  });
  return { user: linkedUserView(updated, platformUserIds) };
}
