import { and, count, desc, eq, inArray } from 'drizzle-orm';
import { alias } from 'drizzle-orm/pg-core';
import type { Db } from '../../db/client';
import { roomModeration, users } from '../../db/schema';
import { writeAudit } from '../audit/audit';
import { type RoomCaller, requireModerator } from './access';
import { type Page, pageInfo } from './views';

// The per-room moderation log (GET /chats/{id}/moderation). Every entry also goes to the site's
// audit log as `room.<action>`, so site admins see room moderation next to their own.

export const ROOM_MODERATION_ACTIONS = [
  'kick',
  'mute',
  'ban',
  'timeout',
  'warn',
  'unban',
  'unmute',
  'clear',
  'delete_message',
] as const;
export type RoomModerationAction = (typeof ROOM_MODERATION_ACTIONS)[number];

/** A mute without a duration lasts "forever": a date no restriction check ever passes. */
export const FOREVER = new Date('9999-12-31T00:00:00.000Z');

/** What clients see of a restriction's end: null for none and for "until lifted". */
export const expiryText = (d: Date | null) => (d && d < FOREVER ? d.toISOString() : null);

/** Who acts, as the log and the audit log name them. */
export type RoomModerator = RoomCaller & { username: string };

type Entry = {
  roomId: number;
  actor: RoomModerator;
  action: RoomModerationAction;
  targetUserId: number | null;
  reason?: string | null | undefined;
  durationMinutes?: number | null | undefined;
  expiresAt?: Date | null | undefined;
  details?: Record<string, unknown>;
};

type LogRow = typeof roomModeration.$inferSelect;

export function moderationEntryView(
  row: LogRow,
  names: { username: string | null; actorUsername: string | null },
) {
  return {
    id: row.id,
    room_id: row.roomId,
    action: row.action as RoomModerationAction,
    user_id: row.targetUserId,
    username: names.username,
    actor_id: row.actorUserId,
    actor_username: names.actorUsername,
    reason: row.reason,
    duration_minutes: row.durationMinutes,
    expires_at: expiryText(row.expiresAt),
    created_at: row.createdAt.toISOString(),
  };
}
export type ModerationEntryView = ReturnType<typeof moderationEntryView>;

/** Writes the room log row and the audit entry; pass the action's transaction as `db`. */
export async function recordModeration(db: Db, e: Entry): Promise<LogRow> {
  const [row] = await db
    .insert(roomModeration)
    .values({
      roomId: e.roomId,
      actorUserId: e.actor.userId,
      targetUserId: e.targetUserId,
      action: e.action,
      reason: e.reason ?? null,
      durationMinutes: e.durationMinutes ?? null,
      expiresAt: e.expiresAt ?? null,
    })
    .returning();
  const expiresAt = expiryText(e.expiresAt ?? null);
  await writeAudit(db, {
    actor: { userId: e.actor.userId, label: e.actor.username },
    action: `room.${e.action}`,
    ...(e.targetUserId === null
      ? { targetType: 'room', targetId: e.roomId }
      : { targetType: 'user', targetId: e.targetUserId }),
    reason: e.reason ?? null,
    details: {
      room_id: e.roomId,
      ...(e.durationMinutes && { duration_minutes: e.durationMinutes }),
      ...(expiresAt && { expires_at: expiresAt }),
      ...e.details,
    },
    roomId: e.roomId,
  });
  return row!;
}

const actors = alias(users, 'actors');
const targets = alias(users, 'targets');

/** GET /chats/{id}/moderation (moderator+): newest first. */
export async function listModerationLog(db: Db, caller: RoomCaller, roomId: number, page: Page) {
  await requireModerator(db, roomId, caller);
  const ofRoom = eq(roomModeration.roomId, roomId);
  const [rows, [total]] = await Promise.all([
    db
      .select({ row: roomModeration, username: targets.username, actorUsername: actors.username })
      .from(roomModeration)
      .leftJoin(targets, eq(targets.id, roomModeration.targetUserId))
      .leftJoin(actors, eq(actors.id, roomModeration.actorUserId))
      .where(ofRoom)
      .orderBy(desc(roomModeration.id))
      .limit(page.limit)
      .offset(page.offset),
    db.select({ n: count() }).from(roomModeration).where(ofRoom),
  ]);
  return { entries: rows.map((r) => moderationEntryView(r.row, r)), ...pageInfo(total?.n, page) };
}

/**
 * Mutes and timeouts that still run for a user, read from the log: they live on the membership
 * row, so without this a member could leave and rejoin by invite to shed them.
 */
export async function activeRestrictions(db: Db, roomId: number, userId: number, now = new Date()) {
  const rows = await db
    .select({ action: roomModeration.action, expiresAt: roomModeration.expiresAt })
    .from(roomModeration)
    .where(
      and(
        eq(roomModeration.roomId, roomId),
        eq(roomModeration.targetUserId, userId),
        inArray(roomModeration.action, ['mute', 'unmute', 'timeout']),
      ),
    )
    .orderBy(desc(roomModeration.id))
    .limit(50);
  const lastMute = rows.find((r) => r.action === 'mute' || r.action === 'unmute');
  const lastTimeout = rows.find((r) => r.action === 'timeout');
  const running = (d: Date | null | undefined) => (d && d > now ? d : null);
  return {
    mutedUntil: lastMute?.action === 'mute' ? running(lastMute.expiresAt) : null,
    timeoutUntil: running(lastTimeout?.expiresAt),
  };
}
