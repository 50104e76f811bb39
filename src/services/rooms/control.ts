import { and, eq, isNull } from 'drizzle-orm';
import { AppError } from '../../core/errors';
import { roomMembers, rooms } from '../../db/schema';
import { isTimedOut, type Membership, type RoomCaller, rankOf, requireMembership } from './access';
import { browserNotRunning } from './browser/browser-errors';
import { publishRoomEvent } from './events';
import type { RoomDeps } from './rooms';
import { ROLE_RANK, type RoomRole } from './types';

// Control handover of a room's browser (API.md §9): one member at a time sends input. The holder
// lives in `rooms.control_user_id`, so every node agrees; each change is a `control_state` event.
// request: take control when free, else ask the holder; release; give (holder or moderator+);
// take (moderator+ from anyone not above them).

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

async function setHolder(
  deps: RoomDeps,
  roomId: number,
  holder: number | null,
  onlyIf?: ReturnType<typeof and>,
) {
  const [row] = await deps.db
    .update(rooms)
    .set({ controlUserId: holder })
    .where(onlyIf ? and(eq(rooms.id, roomId), onlyIf) : eq(rooms.id, roomId))
    .returning({ holder: rooms.controlUserId });
  if (!row) return false;
  await publishRoomEvent(deps, roomId, { type: 'control_state', holder_user_id: holder });
  return true;
}

async function requireControllable(deps: RoomDeps, caller: RoomCaller, roomId: number) {
  const m = await requireMembership(deps.db, roomId, caller.userId);
  if (m.room.browserState !== 'running') throw browserNotRunning();
  const refusal = mayControl(m, caller.level);
  if (refusal) throw new AppError('FORBIDDEN', refusal);
  return m;
}

const state = (holder: number | null) => ({ holder_user_id: holder });

export async function requestControl(
  deps: RoomDeps & { username: string },
  caller: RoomCaller,
  roomId: number,
) {
  const m = await requireControllable(deps, caller, roomId);
  if (m.room.controlUserId === caller.userId) return state(caller.userId);
  if (await setHolder(deps, roomId, caller.userId, isNull(rooms.controlUserId))) return state(caller.userId);
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
  await setHolder(deps, roomId, null, eq(rooms.controlUserId, caller.userId));
  return state(null);
}

export async function giveControl(deps: RoomDeps, caller: RoomCaller, roomId: number, targetId: number) {
  const m = await requireMembership(deps.db, roomId, caller.userId);
  if (m.room.browserState !== 'running') throw browserNotRunning();
  const isHolder = m.room.controlUserId === caller.userId;
  if (!isHolder && rankOf(m.role, caller.level) < ROLE_RANK.moderator) {
    throw new AppError('FORBIDDEN', 'Only the member in control or a moderator can give control');
  }
  const [target] = await deps.db
    .select()
    .from(roomMembers)
    .where(and(eq(roomMembers.roomId, roomId), eq(roomMembers.userId, targetId)));
  if (!target) throw new AppError('NOT_FOUND', 'Member not found');
  const refusal = mayControl({ member: target, role: target.role as RoomRole, room: m.room }, 0);
  if (refusal) throw new AppError('FORBIDDEN', 'That member may not control the browser');
  await setHolder(deps, roomId, targetId);
  return state(targetId);
}

export async function takeControl(deps: RoomDeps, caller: RoomCaller, roomId: number) {
  const m = await requireControllable(deps, caller, roomId);
  const rank = rankOf(m.role, caller.level);
  if (rank < ROLE_RANK.moderator)
    throw new AppError('FORBIDDEN', 'Only the chat owner or a moderator can take control');
  const holder = m.room.controlUserId;
  if (holder !== null && holder !== caller.userId) {
    const [held] = await deps.db
      .select({ role: roomMembers.role })
      .from(roomMembers)
      .where(and(eq(roomMembers.roomId, roomId), eq(roomMembers.userId, holder)));
    if (held && ROLE_RANK[held.role as RoomRole] > rank) {
      throw new AppError('FORBIDDEN', 'You cannot take control from someone above you');
    }
  }
  await setHolder(deps, roomId, caller.userId);
  return state(caller.userId);
}

/** Kicked, banned, timed out or gone: the user loses control of the browser at once. */
export async function clearControlOf(deps: RoomDeps, roomId: number, userId: number) {
  await setHolder(deps, roomId, null, eq(rooms.controlUserId, userId));
}
