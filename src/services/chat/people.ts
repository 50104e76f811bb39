import { eq, inArray } from 'drizzle-orm';
import type { Db } from '../../db/client';
import { users } from '../../db/schema';
import { isAdmin, moderatorIdsOf, payloadRole } from './access';
import { CHAT_LIMITS, type ChatActor } from './types';

// Users as channel payloads show them (`users`, `user_joined`): an anonymous user appears as
// "Anonymous" without id, nickname or avatar, except to themselves and moderators+.

type Person = typeof users.$inferSelect;

function personView(u: Person, moderatorIds: Set<number>, real: boolean) {
  if (u.anonymous && !real) {
    return {
      user_id: null,
      username: 'Anonymous',
      nickname: null,
      role: 'user' as const,
      anonymous: true,
      avatar: null,
    };
  }
  return {
    user_id: u.id,
    username: u.username,
    nickname: u.nickname,
    role: payloadRole(u.permissionLevel, moderatorIds.has(u.id)),
    anonymous: u.anonymous,
    avatar: { color: u.avatarColor, emoji: u.avatarEmoji, initials: u.avatarInitials },
  };
}

/**
 * The `users` list of a channel as `viewer` sees it: the first USERS_MAX online users by username,
 * and how many are online in all.
 */
export async function onlineUsersView(db: Db, viewer: ChatActor, channelId: number, userIds: number[]) {
  if (userIds.length === 0) return { users: [], total: 0 };
  const rows = await db
    .select()
    .from(users)
    .where(inArray(users.id, userIds))
    .orderBy(users.username)
    .limit(CHAT_LIMITS.USERS_MAX);
  const moderatorIds = await moderatorIdsOf(db, channelId);
  const real = isAdmin(viewer) || moderatorIds.has(viewer.userId);
  return {
    users: rows.map((u) => personView(u, moderatorIds, real || u.id === viewer.userId)),
    total: userIds.length,
  };
}

/** `user_joined` as everyone else sees it (masked when the user is anonymous). */
export async function joinedView(db: Db, channelId: number, userId: number) {
  const [u] = await db.select().from(users).where(eq(users.id, userId));
  if (!u) return null;
  const { username, role, anonymous } = personView(u, await moderatorIdsOf(db, channelId), false);
  return { username, role, anonymous, user_id: u.anonymous ? null : u.id };
}
