import type { users } from '../../db/schema';
import { chatSlots, hasPremium, LEVEL } from './policy';

type UserRow = typeof users.$inferSelect;

const iso = (d: Date | null) => d?.toISOString() ?? null;

export const avatarOf = (u: UserRow) => ({
  color: u.avatarColor,
  emoji: u.avatarEmoji,
  initials: u.avatarInitials,
});

/** GET /users/me/subscription */
export function subscriptionOf(u: UserRow, now = new Date()) {
  const premium = hasPremium(u.subscriptionTier, u.subscriptionExpiresAt, now);
  return {
    tier: u.subscriptionTier,
    has_premium: premium,
    subscription_expires_at: iso(u.subscriptionExpiresAt),
    chat_slots: chatSlots(u.permissionLevel, premium),
  };
}

/** What anyone may see of a user (seed 003 redaction). */
export function publicProfile(u: UserRow) {
  return {
    id: u.id,
    username: u.username,
    nickname: u.nickname,
    avatar: avatarOf(u),
    status: u.status,
    status_message: u.statusMessage,
    is_admin: u.permissionLevel >= LEVEL.ADMIN,
    created_at: u.createdAt.toISOString(),
  };
}

/** GET /users/me (and /api/me): the caller's own profile. */
export function ownProfile(u: UserRow) {
  return {
    ...publicProfile(u),
    permission_level: u.permissionLevel,
    scopes: u.scopes,
    state: u.state,
    anonymous: u.anonymous,
    subscription: subscriptionOf(u),
    totp_enabled: u.totpEnabled,
  };
}

/** Admin+ view: no redaction (state reason and expiry included); history is added by the caller. */
export function fullProfile(u: UserRow) {
  return {
    ...ownProfile(u),
    state_reason: u.stateReason,
    state_expires_at: iso(u.stateExpiresAt),
    updated_at: u.updatedAt.toISOString(),
  };
}
