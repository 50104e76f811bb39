import { and, eq, isNull, type SQL } from 'drizzle-orm';
import { AppError } from '../../core/errors';
import { roomMembers, rooms, users } from '../../db/schema';
import {
  isTimedOut,
  type Membership,
  type RoomCaller,
  rankInRoom,
  rankOf,
  requireMembership,
} from './access';
import { browserNotRunning } from './browser/browser-errors';
import { announceUserState, publishRoomEvent } from './events';
import type { RoomDeps } from './rooms';
import { ROLE_RANK, type RoomRole } from './types';

// Control handover of a room's browser (API.md §9): one member at a time sends input. The holder
// lives in `rooms.control_user_id`, so every node agrees; each change is a `control_state` event.
// request: take control when free, else ask the holder; release; give (holder, or moderator+ from
// anyone not above them); take (moderator+ from anyone not above them). Every change is a
// compare-and-set on the previous holder, so of two racing give/take calls exactly one wins.
// A holder who stops qualifying (timed out, demoted, the policy tightened, banned or timed out
// site-wide, removed) loses control at once.

/** Why this member may not control the browser, or null when they may. */
export function mayControl(
  m: Pick<Membership, 'member' | 'role' | 'room'>,
  siteLevel: number,
): string | null {
  if (isTimedOut(m.member)) return 'You are timed out in this chat';
  const rank = rankOf(m.role, siteLevel);
  if (m.room.controlPolicy === 'owner' && rank < ROLE_RANK.owner)
    return 'Only the chat owner may control the browser';
  if (m.room.controlPolicy === 'moderators' && rank < ROLE_RANK.moderator)
    return 'Only moderators may control the browser';
  return null;
}

/**
 * Moves control from `from` to `to` if `from` still holds it (compare-and-set). Control is only
 * handed to someone while the browser runs. False when another change won.
 */
async function swapHolder(deps: RoomDeps, roomId: number, from: number | null, to: number | null) {
  const conditions: SQL[] = [
    eq(rooms.id, roomId),
    from === null ? isNull(rooms.controlUserId) : eq(rooms.controlUserId, from),
  ];
  if (to !== null) conditions.push(eq(rooms.browserState, 'running'));
  const [row] = await deps.db
    .update(rooms)
    .set({ controlUserId: to })
    .where(and(...conditions))
    .returning({ id: rooms.id });
  if (!row) return false;
  await publishRoomEvent(deps, roomId, { type: 'control_state', holder_user_id: to });
  return true;
}

const raced = () => new AppError('CONFLICT', 'Control changed meanwhile; try again');

async function requireControllable(deps: RoomDeps, caller: RoomCaller, roomId: number) {
  const m = await requireMembership(deps.db, roomId, caller.userId);
  if (m.room.browserState !== 'running') throw browserNotRunning();
  const refusal = mayControl(m, caller.level);
  if (refusal) throw new AppError('FORBIDDEN', refusal);
  return m;
}

/** Moving control away from its holder: moderator+, and never from someone above the caller. */
async function assertMayOverride(deps: RoomDeps, caller: RoomCaller, m: Membership, what: string) {
  const rank = rankOf(m.role, caller.level);
  if (rank < ROLE_RANK.moderator)
    throw new AppError('FORBIDDEN', `Only the member in control or a moderator can ${what} control`);
  const holder = m.room.controlUserId;
  if (holder === null || holder === caller.userId) return;
  // "Not above you": moderators may move control between moderators, never away from the owner.
  if ((await rankInRoom(deps.db, m.room.id, holder)) > rank) {
    throw new AppError('FORBIDDEN', `You cannot ${what} control from someone above you`);
  }
}

const state = (holder: number | null) => ({ holder_user_id: holder });

export async function requestControl(
  deps: RoomDeps & { username: string },
  caller: RoomCaller,
  roomId: number,
) {
  const m = await requireControllable(deps, caller, roomId);
  if (m.room.controlUserId === caller.userId) return state(caller.userId);
  if (await swapHolder(deps, roomId, null, caller.userId)) return state(caller.userId);
  // Someone holds it: the room hears the request, the holder decides (control_give).
  await publishRoomEvent(deps, roomId, {
    type: 'control_requested',
    user_id: caller.userId,
    username: deps.username,
  });
  return state(m.room.controlUserId);
}

export async function releaseControl(deps: RoomDeps, caller: RoomCaller, roomId: number) {
  await requireMembership(deps.db, roomId, caller.userId);
  await swapHolder(deps, roomId, caller.userId, null);
  return state(null);
}

export async function giveControl(deps: RoomDeps, caller: RoomCaller, roomId: number, targetId: number) {
  const m = await requireMembership(deps.db, roomId, caller.userId);
  if (m.room.browserState !== 'running') throw browserNotRunning();
  const from = m.room.controlUserId;
  if (from !== caller.userId) await assertMayOverride(deps, caller, m, 'give');
  const [target] = await deps.db
    .select({ member: roomMembers, level: users.permissionLevel })
    .from(roomMembers)
    .innerJoin(users, eq(users.id, roomMembers.userId))
    .where(and(eq(roomMembers.roomId, roomId), eq(roomMembers.userId, targetId)));
  if (!target) throw new AppError('NOT_FOUND', 'Member not found');
  const refusal = mayControl(
    { member: target.member, role: target.member.role as RoomRole, room: m.room },
    target.level,
  );
  if (refusal) throw new AppError('FORBIDDEN', 'That member may not control the browser');
  if (from !== targetId && !(await swapHolder(deps, roomId, from, targetId))) throw raced();
  return state(targetId);
}

export async function takeControl(deps: RoomDeps, caller: RoomCaller, roomId: number) {
  const m = await requireControllable(deps, caller, roomId);
  const from = m.room.controlUserId;
  if (from === caller.userId) return state(caller.userId);
  await assertMayOverride(deps, caller, m, 'take');
  if (!(await swapHolder(deps, roomId, from, caller.userId))) throw raced();
  return state(caller.userId);
}

/** Kicked, banned, timed out or gone: the user loses control of the browser at once. */
export async function clearControlOf(deps: RoomDeps, roomId: number, userId: number) {
  await swapHolder(deps, roomId, userId, null);
}

/**
 * After a role or policy change: the holder keeps control only while they still qualify
 * (a demoted moderator in a `moderators` room, everyone but the owner in an `owner` room).
 */
export async function recheckControl(deps: RoomDeps, roomId: number) {
  const [row] = await deps.db
    .select({ room: rooms, member: roomMembers, level: users.permissionLevel })
    .from(rooms)
    .innerJoin(users, eq(users.id, rooms.controlUserId))
    .leftJoin(roomMembers, and(eq(roomMembers.roomId, rooms.id), eq(roomMembers.userId, users.id)))
    .where(eq(rooms.id, roomId));
  if (!row || row.room.controlUserId === null) return;
  const refusal = row.member
    ? mayControl({ member: row.member, role: row.member.role as RoomRole, room: row.room }, row.level)
    : 'not a member';
  if (refusal) await swapHolder(deps, roomId, row.room.controlUserId, null);
}

/**
 * Banned or timed out site-wide (API.md §1 "WebSocket actions"): every hub forgets the state it
 * cached for the user, and control of every room's browser goes at once.
 */
export async function applySiteRestriction(deps: RoomDeps, userId: number) {
  await announceUserState(deps, userId);
  await clearControlEverywhere(deps, userId);
}

async function clearControlEverywhere(deps: RoomDeps, userId: number) {
  const released = await deps.db
    .update(rooms)
    .set({ controlUserId: null })
    .where(eq(rooms.controlUserId, userId))
    .returning({ id: rooms.id });
  for (const { id } of released) {
    await publishRoomEvent(deps, id, { type: 'control_state', holder_user_id: null });
  }
}
