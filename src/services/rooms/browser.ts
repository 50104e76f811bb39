import { eq } from 'drizzle-orm';
import type { SecretBox } from '../../core/crypto';
import { AppError } from '../../core/errors';
import type { Db } from '../../db/client';
import { rooms } from '../../db/schema';
import { isModeratorPlus, type RoomCaller, requireMembership } from './access';
import { browserNotRunning } from './browser/browser-errors';
import type { BrowserHost } from './browser-host';
import { mayControl } from './control';
import { memberCount, type RoomDeps } from './rooms';
import { ROOM_KIND } from './types';
import { openClipboard, roomView } from './views';

// Start, stop, screen and clipboard of a room's shared browser (API.md §5), with the room rules;
// the BrowserHost does the work wherever the browser runs.

export type BrowserDeps = RoomDeps & { browsers: BrowserHost; secretBox: SecretBox };

/** Moderator+ start and stop a room's browser; in a direct chat either member may. */
async function requireOperator(db: Db, caller: RoomCaller, roomId: number) {
  const membership = await requireMembership(db, roomId, caller.userId);
  if (membership.room.kind !== ROOM_KIND.DIRECT && !isModeratorPlus(membership.role, caller.level)) {
    throw new AppError('FORBIDDEN', 'Only the chat owner or a moderator can do this');
  }
  return membership;
}

export async function startRoomBrowser(deps: BrowserDeps, caller: RoomCaller, roomId: number) {
  const { room, role } = await requireOperator(deps.db, caller, roomId);
  const started = await deps.browsers.launch(room);
  return roomView(started, { role, memberCount: await memberCount(deps.db, roomId) });
}

export async function stopRoomBrowser(deps: BrowserDeps, caller: RoomCaller, roomId: number) {
  const { room, role } = await requireOperator(deps.db, caller, roomId);
  await deps.browsers.halt(room, 'stopped');
  const [stopped] = await deps.db.select().from(rooms).where(eq(rooms.id, roomId));
  return roomView(stopped ?? room, { role, memberCount: await memberCount(deps.db, roomId) });
}

/** GET /chats/{id}/screen: a JPEG of the page as it is now. */
export async function roomScreenshot(deps: BrowserDeps, userId: number, roomId: number): Promise<Buffer> {
  const { room } = await requireMembership(deps.db, roomId, userId);
  if (room.browserState !== 'running') throw browserNotRunning();
  return deps.browsers.screenshot(room);
}

export async function getRoomClipboard(deps: BrowserDeps, userId: number, roomId: number) {
  const { room } = await requireMembership(deps.db, roomId, userId);
  return { text: openClipboard(deps.secretBox, room.clipboard) };
}

/**
 * PUT /chats/{id}/clipboard: members allowed to control the browser set the room clipboard; it is
 * written into the running browser and pushed to members.
 */
export async function putRoomClipboard(deps: BrowserDeps, caller: RoomCaller, roomId: number, text: string) {
  const membership = await requireMembership(deps.db, roomId, caller.userId);
  const refusal = mayControl(membership, caller.level);
  if (refusal) throw new AppError('FORBIDDEN', refusal);
  await deps.browsers.setClipboard(membership.room, text);
  await deps.browsers.storeClipboard(roomId, text);
  return { text };
}
