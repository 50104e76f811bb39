import { and, eq } from 'drizzle-orm';
import { AppError } from '../../core/errors';
import { roomMembers } from '../../db/schema';
import { findMember, type RoomCaller, requireRoomOwner } from './access';
import { recheckControl } from './control';
import { publishRoomEvent } from './events';
import type { RoomDeps } from './rooms';
import { ROOM_KIND } from './types';

// Room roles (API.md §5): only the owner promotes members to moderator or demotes them. A demoted
// holder of the browser's control loses it when the room's policy no longer admits them.

export async function setMemberRole(
  deps: RoomDeps,
  caller: RoomCaller,
  roomId: number,
  targetId: number,
  role: 'moderator' | 'member',
) {
  const room = await requireRoomOwner(deps.db, roomId, caller);
  if (room.kind === ROOM_KIND.DIRECT) throw new AppError('CONFLICT', 'Direct chats have no roles');
  const member = await findMember(deps.db, roomId, targetId);
  if (!member) throw new AppError('NOT_FOUND', 'Member not found');
  if (member.role === 'owner') throw new AppError('FORBIDDEN', "The owner's role cannot be changed");
  if (member.role !== role) {
    await deps.db
      .update(roomMembers)
      .set({ role })
      .where(and(eq(roomMembers.roomId, roomId), eq(roomMembers.userId, targetId)));
    await publishRoomEvent(deps, roomId, { type: 'member_role', user_id: targetId, role });
    if (role === 'member') await recheckControl(deps, roomId);
  }
  return { user_id: targetId, role };
}
