import type { Db } from '../../db/client';
import { roomMembers, rooms } from '../../db/schema';
import { ROOM_DEFAULTS, ROOM_KIND, type RoomRow } from './types';

// Direct rooms are the 1-on-1 chats matchmaking creates (API.md §5): no owner, so they cost no
// chat slot; both users are plain members; the room is destroyed when the last one leaves.

/** Creates the direct room of a pair on `db` (pass the pairing transaction). */
export async function createDirectRoom(db: Db, userIds: [number, number]): Promise<RoomRow> {
  const [room] = await db
    .insert(rooms)
    .values({
      ownerId: null,
      kind: ROOM_KIND.DIRECT,
      name: 'Direct chat',
      startUrl: ROOM_DEFAULTS.start_url,
      viewportWidth: ROOM_DEFAULTS.width,
      viewportHeight: ROOM_DEFAULTS.height,
      maxMembers: 2,
      controlPolicy: 'everyone',
    })
    .returning();
  await db
    .insert(roomMembers)
    .values(userIds.map((userId) => ({ roomId: room!.id, userId, role: 'member' })));
  return room!;
}
