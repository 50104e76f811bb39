import { and, count, eq, ne } from 'drizzle-orm';
import { alias } from 'drizzle-orm/pg-core';
import { AppError } from '../../core/errors';
import type { Db } from '../../db/client';
import { roomMembers, rooms, users } from '../../db/schema';
import { evictFromRoom, publishRoomEvent } from '../rooms/events';
import { ROOM_KIND } from '../rooms/types';
import type { MatchDeps, MatchPartner } from './types';

// The direct rooms matchmaking creates (services/rooms/direct.ts), seen from one member: the
// current match (a direct room where the partner is still present) and leaving one.

const partnerMember = alias(roomMembers, 'partner_member');

/** The caller's direct room with the partner still in it, or null. */
export async function findActiveMatch(
  db: Db,
  userId: number,
): Promise<{ roomId: number; partner: MatchPartner } | null> {
  const [row] = await db
    .select({ roomId: roomMembers.roomId, partnerId: users.id, partnerName: users.username })
    .from(roomMembers)
    .innerJoin(rooms, and(eq(rooms.id, roomMembers.roomId), eq(rooms.kind, ROOM_KIND.DIRECT)))
    .innerJoin(
      partnerMember,
      and(eq(partnerMember.roomId, roomMembers.roomId), ne(partnerMember.userId, roomMembers.userId)),
    )
    .innerJoin(users, eq(users.id, partnerMember.userId))
    .where(eq(roomMembers.userId, userId))
    .limit(1);
  return row ? { roomId: row.roomId, partner: { id: row.partnerId, username: row.partnerName } } : null;
}

/** Direct rooms the user is in, each with its member count (the user included). */
export async function directRoomsOf(db: Db, userId: number) {
  return db
    .select({ roomId: roomMembers.roomId, members: count(partnerMember.userId) })
    .from(roomMembers)
    .innerJoin(rooms, and(eq(rooms.id, roomMembers.roomId), eq(rooms.kind, ROOM_KIND.DIRECT)))
    .innerJoin(partnerMember, eq(partnerMember.roomId, roomMembers.roomId))
    .where(eq(roomMembers.userId, userId))
    .groupBy(roomMembers.roomId);
}

/**
 * Removes the user from a direct room inside `tx`, deleting the room (and by cascade its messages)
 * once nobody is left. The room row is locked first so two members leaving at the same moment
 * cannot both see the other still present and leave an empty room behind.
 */
export async function leaveDirectRoom(tx: Db, roomId: number, userId: number) {
  await tx.select({ id: rooms.id }).from(rooms).where(eq(rooms.id, roomId)).for('update');
  const removed = await tx
    .delete(roomMembers)
    .where(and(eq(roomMembers.roomId, roomId), eq(roomMembers.userId, userId)))
    .returning({ userId: roomMembers.userId });
  const [left] = await tx
    .select({ members: count() })
    .from(roomMembers)
    .where(eq(roomMembers.roomId, roomId));
  const empty = (left?.members ?? 0) === 0;
  if (empty) await tx.delete(rooms).where(eq(rooms.id, roomId));
  return { roomId, empty, removed: removed.length > 0 };
}

/** After the commit: the partner's sockets hear `member_left`, the leaver's sockets leave the room. */
export async function announceLeft(
  deps: MatchDeps,
  left: { roomId: number; empty: boolean },
  userId: number,
) {
  if (!left.empty) {
    await publishRoomEvent(deps, left.roomId, { type: 'member_left', user_id: userId, reason: 'left' });
  }
  await evictFromRoom(deps, left.roomId, userId, 'left');
}

/**
 * `POST /match/leave`: leave the direct chat the caller was matched into (also one whose partner
 * already left). 404 "No active match" when there is none.
 */
export async function leaveMatch(deps: MatchDeps, userId: number) {
  const left = await deps.db.transaction(async (raw) => {
    const tx = raw as unknown as Db;
    const [room] = await directRoomsOf(tx, userId);
    const left = room && (await leaveDirectRoom(tx, room.roomId, userId));
    // A second leave racing the first finds the membership already gone.
    if (!left?.removed) throw new AppError('NOT_FOUND', 'No active match');
    return left;
  });
  await announceLeft(deps, left, userId);
  return { success: true as const };
}
