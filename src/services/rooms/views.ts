import type { SecretBox } from '../../core/crypto';
import { expiryText } from './moderation-log';
import { type RoomRole, type RoomRow, roomConfigOf } from './types';

// What clients see of rooms and members (API.md §5). Times are ISO strings; the room clipboard is
// never part of a room view (GET /chats/{id}/clipboard reads it).

export function roomView(room: RoomRow, extra: { role: RoomRole | null; memberCount: number }) {
  return {
    id: room.id,
    name: room.name,
    kind: room.kind as 'room' | 'direct',
    owner_id: room.ownerId,
    role: extra.role,
    config: roomConfigOf(room),
    state: room.browserState as 'stopped' | 'running',
    started_at: room.browserStartedAt?.toISOString() ?? null,
    member_count: extra.memberCount,
    created_at: room.createdAt.toISOString(),
  };
}
export type RoomView = ReturnType<typeof roomView>;

/** A restriction that has passed is shown as none, one "until lifted" as null too (see `muted`). */
const until = (d: Date | null, now: Date) => (d && d > now ? expiryText(d) : null);

export function memberView(
  m: {
    userId: number;
    username: string;
    role: string;
    mutedUntil: Date | null;
    timeoutUntil: Date | null;
    joinedAt: Date;
  },
  now = new Date(),
) {
  return {
    user_id: m.userId,
    username: m.username,
    role: m.role as RoomRole,
    /** Distinguishes "muted until unmuted" (muted, no muted_until) from "not muted". */
    muted: m.mutedUntil !== null && m.mutedUntil > now,
    muted_until: until(m.mutedUntil, now),
    timed_out: m.timeoutUntil !== null && m.timeoutUntil > now,
    timeout_until: until(m.timeoutUntil, now),
    joined_at: m.joinedAt.toISOString(),
  };
}
export type MemberView = ReturnType<typeof memberView>;

export type Page = { limit: number; offset: number };

/** What every room list answers besides its items (GET /chats, members, moderation, invites, keys). */
export const pageInfo = (total: number | undefined, page: Page) => ({
  total: Number(total ?? 0),
  limit: page.limit,
  offset: page.offset,
});

export const openClipboard = (box: SecretBox, sealed: string | null) => (sealed ? box.decrypt(sealed) : '');
