import { and, eq, gt, isNull, or } from 'drizzle-orm';
import { AppError } from '../../core/errors';
import type { Db } from '../../db/client';
import { roomBans, roomMembers, rooms, users } from '../../db/schema';
import { LEVEL } from '../users/policy';
import { ROLE_RANK, type RoomMemberRow, type RoomRole, type RoomRow } from './types';

// Who may see and do what in a room. Non-members get 404 "Chat not found" for every room call,
// so room ids reveal nothing. "Moderator+" (API.md §0) is a room moderator or owner, or any
// Admin/Owner of the site; site admins who are not members may moderate but do not see content.
// The hierarchy follows API.md §1 ("act only on users below you, Owners on everyone"): room owner
// > moderator > member, site Admins rank at least as moderators, site Owners above every room role.

/** The caller as the rooms services need them (a UserActor fits). */
export type RoomCaller = { userId: number; level: number };

export type Membership = { room: RoomRow; member: RoomMemberRow; role: RoomRole };

export const roomNotFound = () => new AppError('NOT_FOUND', 'Chat not found');

export async function findRoom(db: Db, roomId: number): Promise<RoomRow | null> {
  const [room] = await db.select().from(rooms).where(eq(rooms.id, roomId)).limit(1);
  return room ?? null;
}

export async function findMember(db: Db, roomId: number, userId: number): Promise<RoomMemberRow | null> {
  const [member] = await db
    .select()
    .from(roomMembers)
    .where(and(eq(roomMembers.roomId, roomId), eq(roomMembers.userId, userId)))
    .limit(1);
  return member ?? null;
}

/** The room and the caller's membership, or 404 when either is missing (one query). */
export async function requireMembership(db: Db, roomId: number, userId: number): Promise<Membership> {
  const [row] = await db
    .select({ room: rooms, member: roomMembers })
    .from(rooms)
    .innerJoin(roomMembers, and(eq(roomMembers.roomId, rooms.id), eq(roomMembers.userId, userId)))
    .where(eq(rooms.id, roomId))
    .limit(1);
  if (!row) throw roomNotFound();
  return { room: row.room, member: row.member, role: row.member.role as RoomRole };
}

/** Where site Owners stand in every room: above the room's own owner (API.md §1). */
export const SITE_OWNER_RANK = ROLE_RANK.owner + 1;

/** A member's rank for the hierarchy; site Admins count at least as moderators, site Owners above all. */
export function rankOf(role: RoomRole | null, siteLevel: number): number {
  const own = role ? ROLE_RANK[role] : -1;
  if (siteLevel >= LEVEL.OWNER) return SITE_OWNER_RANK;
  return siteLevel >= LEVEL.ADMIN ? Math.max(own, ROLE_RANK.moderator) : own;
}

/** Acting on someone (moderation, deleting their words): strictly below you; site Owners on everyone. */
export const outranks = (actor: { rank: number; level: number }, targetRank: number) =>
  actor.level >= LEVEL.OWNER || actor.rank > targetRank;

/**
 * A user's rank in a room by their current role and site level; -1 for someone who is neither a
 * member nor a site Admin+ (a former member, or a deleted account).
 */
export async function rankInRoom(db: Db, roomId: number, userId: number): Promise<number> {
  const [row] = await db
    .select({ level: users.permissionLevel, role: roomMembers.role })
    .from(users)
    .leftJoin(roomMembers, and(eq(roomMembers.roomId, roomId), eq(roomMembers.userId, users.id)))
    .where(eq(users.id, userId))
    .limit(1);
  return row ? rankOf((row.role as RoomRole | null) ?? null, row.level) : -1;
}

export const isModeratorPlus = (role: RoomRole | null, siteLevel: number) =>
  rankOf(role, siteLevel) >= ROLE_RANK.moderator;

/**
 * A member, or (for moderation) a site Admin+ who is not a member. Throws 404 for anyone else,
 * 403 "Access denied" for members below moderator.
 */
export async function requireModerator(db: Db, roomId: number, caller: RoomCaller) {
  const room = await findRoom(db, roomId);
  if (!room) throw roomNotFound();
  const member = await findMember(db, roomId, caller.userId);
  const role = (member?.role as RoomRole | undefined) ?? null;
  if (!member && caller.level < LEVEL.ADMIN) throw roomNotFound();
  if (!isModeratorPlus(role, caller.level)) throw new AppError('FORBIDDEN', 'Moderator access required');
  return { room, member, role, rank: rankOf(role, caller.level) };
}

/** The room's owner only (config, roles, start/stop, destroy); site Owners may act on any room. */
export async function requireRoomOwner(db: Db, roomId: number, caller: RoomCaller): Promise<RoomRow> {
  const room = await findRoom(db, roomId);
  if (!room) throw roomNotFound();
  if (room.ownerId === caller.userId || caller.level >= LEVEL.OWNER) return room;
  const member = await findMember(db, roomId, caller.userId);
  if (!member) throw roomNotFound();
  throw new AppError('FORBIDDEN', 'Only the chat owner can do this');
}

/** Muted or timed out now: the member may not send (timeouts also forbid control). */
export const isSilenced = (member: RoomMemberRow, now = new Date()) =>
  (member.mutedUntil !== null && member.mutedUntil > now) ||
  (member.timeoutUntil !== null && member.timeoutUntil > now);

export const isTimedOut = (member: RoomMemberRow, now = new Date()) =>
  member.timeoutUntil !== null && member.timeoutUntil > now;

/** A room ban that still holds: without an end, or ending later (a timed ban lapses by itself). */
export const banInForce = (now = new Date()) => or(isNull(roomBans.expiresAt), gt(roomBans.expiresAt, now));
