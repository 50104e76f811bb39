import { and, asc, count, eq } from 'drizzle-orm';
import type { Db } from '../../db/client';
import { roomKeys, roomMembers } from '../../db/schema';
import { requireMembership } from './access';
import { publishRoomEvent } from './events';
import { keyView } from './message-types';
import type { RoomDeps } from './rooms';
import { type Page, pageInfo } from './views';

// End-to-end keys of room chat (API.md §5): each member publishes one public key per room; senders
// encrypt for the keys of the members they see here and name them in `key_ids`. The server never
// holds a private key and never reads what is encrypted.

/**
 * POST /chats/{id}/keys: registers the caller's key, replacing the previous one. A replacement
 * gets a new id, so messages encrypted for the old key stay distinguishable from new ones.
 */
export async function registerRoomKey(deps: RoomDeps, userId: number, roomId: number, publicKey: string) {
  await requireMembership(deps.db, roomId, userId);
  const row = await deps.db.transaction(async (txRaw) => {
    const tx = txRaw as unknown as Db;
    // The membership row serialises two registrations of one member (the key index is not unique).
    await tx
      .select({ userId: roomMembers.userId })
      .from(roomMembers)
      .where(and(eq(roomMembers.roomId, roomId), eq(roomMembers.userId, userId)))
      .for('update');
    await tx.delete(roomKeys).where(and(eq(roomKeys.roomId, roomId), eq(roomKeys.userId, userId)));
    const [inserted] = await tx.insert(roomKeys).values({ roomId, userId, publicKey }).returning();
    return inserted!;
  });
  const key = keyView(row);
  await publishRoomEvent(deps, roomId, { type: 'key_registered', key });
  return key;
}

/** GET /chats/{id}/keys: keys of current members only; a former member's key is kept but hidden. */
export async function listRoomKeys(db: Db, userId: number, roomId: number, page: Page) {
  await requireMembership(db, roomId, userId);
  const ofMembers = and(eq(roomMembers.roomId, roomKeys.roomId), eq(roomMembers.userId, roomKeys.userId));
  const ofRoom = eq(roomKeys.roomId, roomId);
  const [rows, [total]] = await Promise.all([
    db
      .select({ key: roomKeys })
      .from(roomKeys)
      .innerJoin(roomMembers, ofMembers)
      .where(ofRoom)
      .orderBy(asc(roomKeys.userId), asc(roomKeys.id))
      .limit(page.limit)
      .offset(page.offset),
    db.select({ n: count() }).from(roomKeys).innerJoin(roomMembers, ofMembers).where(ofRoom),
  ]);
  return { keys: rows.map((r) => keyView(r.key)), ...pageInfo(total?.n, page) };
}
