import { and, desc, eq, inArray, lt } from 'drizzle-orm';
import type { SecretBox } from '../../core/crypto';
import { AppError } from '../../core/errors';
import type { RateLimiter } from '../../core/rate-limit';
import type { Db } from '../../db/client';
import { roomKeys, roomMessages, users } from '../../db/schema';
import { enforceAutomod } from '../automod/enforce';
import { LEVEL } from '../users/policy';
import {
  findMember,
  findRoom,
  isModeratorPlus,
  outranks,
  type RoomCaller,
  rankInRoom,
  rankOf,
  requireMembership,
  roomNotFound,
} from './access';
import { publishRoomEvent } from './events';
import { CHAT_RATE, messageView, type RoomMessageBody } from './message-types';
import { expiryText, type RoomModerator, recordModeration } from './moderation-log';
import type { RoomDeps } from './rooms';
import type { RoomMemberRow, RoomRole } from './types';

// Room chat (API.md §5): members send, read, delete; moderator+ clear. Plain text is sealed with
// the SecretBox before it reaches the database; end-to-end messages are stored as they came.

export type ChatDeps = RoomDeps & {
  secretBox: SecretBox;
  /** Keys auto-moderation's flood counters. */
  secretKey: Buffer;
  rateLimiter: RateLimiter;
  /** CHAT_RATE_MESSAGES / CHAT_RATE_WINDOW_SECONDS (CHAT_RATE's defaults when absent), AUTOMOD_REGEX_TIMEOUT_MS. */
  env?: { CHAT_RATE_MESSAGES: number; CHAT_RATE_WINDOW_SECONDS: number; AUTOMOD_REGEX_TIMEOUT_MS?: number };
};

/** Muted and timed-out members are refused with when it ends (omitted for an open-ended mute). */
function assertMaySend(member: RoomMemberRow, now = new Date()) {
  if (member.timeoutUntil && member.timeoutUntil > now) {
    throw new AppError('FORBIDDEN', 'You are timed out in this chat', {
      reason: 'room_timeout',
      expires_at: member.timeoutUntil.toISOString(),
    });
  }
  if (member.mutedUntil && member.mutedUntil > now) {
    const expiresAt = expiryText(member.mutedUntil);
    throw new AppError('FORBIDDEN', 'You are muted in this chat', {
      reason: 'room_muted',
      ...(expiresAt && { expires_at: expiresAt }),
    });
  }
}

async function countChatMessage(deps: ChatDeps, userId: number) {
  let result: Awaited<ReturnType<RateLimiter['checkCustom']>>;
  try {
    result = await deps.rateLimiter.checkCustom(
      CHAT_RATE.name,
      `user:${userId}`,
      deps.env?.CHAT_RATE_MESSAGES ?? CHAT_RATE.limit,
      (deps.env?.CHAT_RATE_WINDOW_SECONDS ?? CHAT_RATE.windowMs / 1000) * 1000,
    );
  } catch (err) {
    // As for the tiers: an unreachable counter store (Redis) lets chat through rather than fail it.
    deps.log.warn({ err }, 'chat rate limiter unavailable');
    return;
  }
  if (!result.allowed)
    throw new AppError('TOO_MANY_REQUESTS', undefined, { retry_after: result.retryAfterSeconds });
}

/** End-to-end messages name keys of this room; anything else is a client bug worth reporting. */
async function assertRoomKeys(db: Db, roomId: number, keyIds: number[]) {
  const found = await db
    .select({ id: roomKeys.id })
    .from(roomKeys)
    .where(and(eq(roomKeys.roomId, roomId), inArray(roomKeys.id, keyIds)));
  if (found.length !== keyIds.length) {
    throw new AppError('BAD_REQUEST', 'key_ids must name keys registered in this chat');
  }
}

/** POST /chats/{id}/messages (and the /ws/portal equivalent). */
export async function sendRoomMessage(
  deps: ChatDeps,
  caller: RoomModerator,
  roomId: number,
  body: RoomMessageBody,
) {
  const { member, role } = await requireMembership(deps.db, roomId, caller.userId);
  assertMaySend(member);
  await countChatMessage(deps, caller.userId);
  const encrypted = body.ciphertext !== undefined;
  if (encrypted) await assertRoomKeys(deps.db, roomId, body.key_ids ?? []);
  // End-to-end encrypted messages cannot be read here, so only plain text is checked.
  else {
    await enforceAutomod(deps, {
      context: 'room',
      author: caller,
      bypass: isModeratorPlus(role, caller.level),
      roomId,
      text: body.content ?? '',
    });
  }
  const [row] = await deps.db
    .insert(roomMessages)
    .values(
      encrypted
        ? {
            roomId,
            userId: caller.userId,
            ciphertext: body.ciphertext,
            nonce: body.nonce,
            keyIds: body.key_ids,
          }
        : { roomId, userId: caller.userId, content: deps.secretBox.encrypt(body.content ?? '') },
    )
    .returning();
  const message = messageView(deps.secretBox, row!, caller.username);
  await publishRoomEvent(deps, roomId, { type: 'chat_message', message });
  return message;
}

/**
 * GET /chats/{id}/messages: the newest `limit` messages before `before_id` (or the newest of
 * all), returned oldest first; `has_more` says whether older ones remain.
 */
export async function listRoomMessages(
  deps: { db: Db; secretBox: SecretBox },
  userId: number,
  roomId: number,
  page: { before_id?: number | undefined; limit: number },
) {
  await requireMembership(deps.db, roomId, userId);
  const rows = await deps.db
    .select({ row: roomMessages, username: users.username })
    .from(roomMessages)
    .leftJoin(users, eq(users.id, roomMessages.userId))
    .where(
      and(
        eq(roomMessages.roomId, roomId),
        page.before_id === undefined ? undefined : lt(roomMessages.id, page.before_id),
      ),
    )
    .orderBy(desc(roomMessages.id))
    .limit(page.limit + 1);
  const hasMore = rows.length > page.limit;
  const messages = rows
    .slice(0, page.limit)
    .reverse()
    .map((r) => messageView(deps.secretBox, r.row, r.username));
  return { messages, has_more: hasMore };
}

/** Members, and site Admins+ who moderate without being members (access.ts). */
async function roleInRoom(db: Db, roomId: number, caller: RoomCaller): Promise<RoomRole | null> {
  if (!(await findRoom(db, roomId))) throw roomNotFound();
  const member = await findMember(db, roomId, caller.userId);
  if (!member && caller.level < LEVEL.ADMIN) throw roomNotFound();
  return (member?.role as RoomRole | undefined) ?? null;
}

/**
 * DELETE /chats/{id}/messages/{message_id}: one's own, or, for moderator+, those of members below
 * them (the moderation hierarchy: a room moderator cannot delete the owner's words; a site Owner can).
 */
export async function deleteRoomMessage(
  deps: ChatDeps,
  caller: RoomModerator,
  roomId: number,
  messageId: number,
) {
  const role = await roleInRoom(deps.db, roomId, caller);
  const [message] = await deps.db
    .select({ userId: roomMessages.userId })
    .from(roomMessages)
    .where(and(eq(roomMessages.id, messageId), eq(roomMessages.roomId, roomId)));
  if (!message) throw new AppError('NOT_FOUND', 'Message not found');
  const own = message.userId === caller.userId;
  if (!own && !isModeratorPlus(role, caller.level)) {
    throw new AppError('FORBIDDEN', 'You can only delete your own messages');
  }
  // An author whose account is gone (user_id null) ranks below everyone.
  if (!own && message.userId !== null) {
    const authorRank = await rankInRoom(deps.db, roomId, message.userId);
    if (!outranks({ rank: rankOf(role, caller.level), level: caller.level }, authorRank)) {
      throw new AppError('FORBIDDEN', 'You can only delete messages of members below you');
    }
  }
  await deps.db.transaction(async (txRaw) => {
    const tx = txRaw as unknown as Db;
    await tx.delete(roomMessages).where(eq(roomMessages.id, messageId));
    // Removing someone else's words is moderation: it goes to the room log and the audit log.
    if (!own) {
      await recordModeration(tx, {
        roomId,
        actor: caller,
        action: 'delete_message',
        targetUserId: message.userId,
        details: { message_id: messageId },
      });
    }
  });
  await publishRoomEvent(deps, roomId, { type: 'chat_message_deleted', message_id: messageId });
  return { success: true as const };
}

/** POST /chats/{id}/messages/clear (moderator+): deletes the room's whole history. */
export async function clearRoomMessages(deps: ChatDeps, caller: RoomModerator, roomId: number) {
  const role = await roleInRoom(deps.db, roomId, caller);
  if (!isModeratorPlus(role, caller.level)) {
    throw new AppError('FORBIDDEN', 'Only the chat owner or a moderator can clear the chat');
  }
  const count = await deps.db.transaction(async (txRaw) => {
    const tx = txRaw as unknown as Db;
    const deleted = await tx
      .delete(roomMessages)
      .where(eq(roomMessages.roomId, roomId))
      .returning({ id: roomMessages.id });
    await recordModeration(tx, {
      roomId,
      actor: caller,
      action: 'clear',
      targetUserId: null,
      details: { count: deleted.length },
    });
    return deleted.length;
  });
  await publishRoomEvent(deps, roomId, { type: 'chat_cleared' });
  return { success: true as const, count };
}
