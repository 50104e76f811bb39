import { and, asc, count, desc, eq, inArray, sql } from 'drizzle-orm';
import { AppError } from '../../core/errors';
import type { Db } from '../../db/client';
import { roomMembers, rooms, users } from '../../db/schema';
import { recordActivity } from '../activity/activity';
import type { PushDeps } from '../notifications/notify';
import { chatSlots, hasPremium } from '../users/policy';
import { findRoom, type RoomCaller, requireMembership, requireRoomOwner, roomNotFound } from './access';
import { clearControlOf, recheckControl } from './control';
import { evictFromRoom, publishRoomEvent } from './events';
import {
  ROOM_DEFAULTS,
  ROOM_KIND,
  type RoomConfigPatch,
  type RoomRole,
  type RoomRow,
  roomConfigOf,
} from './types';
import { memberView, type Page, pageInfo, roomView } from './views';

// Rooms of API.md §5: creation within the chat slots of seed 003, listing, config, leaving and
// destroying. The browser itself is started and stopped by the BrowserHost (browser-host.ts).

export type RoomDeps = { db: Db } & PushDeps;

/** Stops a room's browser wherever it runs (the BrowserHost); injected so rooms need no runtime. */
export type StopBrowser = (room: RoomRow, reason: string) => Promise<void>;

const memberCount = async (db: Db, roomId: number) => {
  const [row] = await db.select({ n: count() }).from(roomMembers).where(eq(roomMembers.roomId, roomId));
  return Number(row?.n ?? 0);
};

/**
 * POST /chats. The caller's user row is locked for the check-and-insert, so concurrent creations
 * cannot both take the last slot. Direct (matchmaking) rooms have no owner and cost no slot.
 */
export async function createRoom(
  deps: RoomDeps,
  caller: RoomCaller,
  input: { name: string; config?: RoomConfigPatch | undefined },
) {
  const config = { ...ROOM_DEFAULTS, ...input.config };
  const room = await deps.db.transaction(async (txRaw) => {
    const tx = txRaw as unknown as Db;
    const [user] = await tx.select().from(users).where(eq(users.id, caller.userId)).for('update');
    if (!user) throw new AppError('UNAUTHORIZED');
    const slots = chatSlots(
      user.permissionLevel,
      hasPremium(user.subscriptionTier, user.subscriptionExpiresAt),
    );
    if (slots === 0) {
      throw new AppError('FORBIDDEN', 'Your plan includes no chat slots', {
        reason: 'no_chat_slots',
        slots: 0,
      });
    }
    if (slots !== null) {
      const [owned] = await tx
        .select({ n: count() })
        .from(rooms)
        .where(and(eq(rooms.ownerId, caller.userId), eq(rooms.kind, ROOM_KIND.ROOM)));
      const used = Number(owned?.n ?? 0);
      if (used >= slots) {
        throw new AppError('FORBIDDEN', 'All your chat slots are in use', {
          reason: 'chat_slots_full',
          slots,
          used,
        });
      }
    }
    const [created] = await tx
      .insert(rooms)
      .values({
        ownerId: caller.userId,
        kind: ROOM_KIND.ROOM,
        name: input.name,
        startUrl: config.start_url,
        viewportWidth: config.width,
        viewportHeight: config.height,
        maxMembers: config.max_members,
        controlPolicy: config.control,
      })
      .returning();
    await tx.insert(roomMembers).values({ roomId: created!.id, userId: caller.userId, role: 'owner' });
    await recordActivity(tx, {
      userId: caller.userId,
      action: 'room_created',
      details: `Created chat "${created!.name}"`,
    });
    return created!;
  });
  return roomView(room, { role: 'owner', memberCount: 1 });
}

/**
 * GET /chats: the rooms the caller is a member of, newest first. Member counts are aggregated for
 * the returned page only.
 */
export async function listRooms(db: Db, opts: { userId: number } & Page) {
  const mine = eq(roomMembers.userId, opts.userId);
  const [rows, [total]] = await Promise.all([
    db
      .select({ room: rooms, role: roomMembers.role })
      .from(roomMembers)
      .innerJoin(rooms, eq(rooms.id, roomMembers.roomId))
      .where(mine)
      .orderBy(desc(rooms.id))
      .limit(opts.limit)
      .offset(opts.offset),
    db.select({ n: count() }).from(roomMembers).where(mine),
  ]);
  const ids = rows.map((r) => r.room.id);
  const counts = ids.length
    ? await db
        .select({ roomId: roomMembers.roomId, n: count() })
        .from(roomMembers)
        .where(inArray(roomMembers.roomId, ids))
        .groupBy(roomMembers.roomId)
    : [];
  const countOf = new Map(counts.map((c) => [c.roomId, Number(c.n)]));
  return {
    chats: rows.map((r) =>
      roomView(r.room, { role: r.role as RoomRole, memberCount: countOf.get(r.room.id) ?? 0 }),
    ),
    ...pageInfo(total?.n, opts),
  };
}

/** GET /chats/{id}: members only (404 otherwise). */
export async function getRoom(db: Db, roomId: number, userId: number) {
  const { room, role } = await requireMembership(db, roomId, userId);
  return roomView(room, { role, memberCount: await memberCount(db, roomId) });
}

/**
 * PATCH /chats/{id}/config (owner). Viewport changes apply at the next start of the browser;
 * `max_members` below the current count keeps everyone but admits no one new; a tighter `control`
 * takes control away from a holder it no longer admits.
 */
export async function updateRoomConfig(
  deps: RoomDeps,
  caller: RoomCaller,
  roomId: number,
  patch: RoomConfigPatch,
) {
  const room = await requireRoomOwner(deps.db, roomId, caller);
  if (room.kind === ROOM_KIND.DIRECT) throw new AppError('CONFLICT', 'Direct chats have no configuration');
  const next = { ...roomConfigOf(room), ...patch };
  const [updated] = await deps.db
    .update(rooms)
    .set({
      startUrl: next.start_url,
      viewportWidth: next.width,
      viewportHeight: next.height,
      maxMembers: next.max_members,
      controlPolicy: next.control,
      updatedAt: new Date(),
    })
    .where(eq(rooms.id, roomId))
    .returning();
  if (!updated) throw roomNotFound();
  await publishRoomEvent(deps, roomId, { type: 'chat_config', config: roomConfigOf(updated) });
  if (updated.controlPolicy !== room.controlPolicy) await recheckControl(deps, roomId);
  const role = updated.ownerId === caller.userId ? 'owner' : null;
  return roomView(updated, { role, memberCount: await memberCount(deps.db, roomId) });
}

/**
 * DELETE /chats/{id} (owner): deletes the room (and by cascade everything of it), stops its
 * browser, tells members. The row is deleted first and its last state read from the delete: a
 * start racing this call has either claimed the row (then its browser is stopped here) or finds
 * no row (then it closes the context it opened itself).
 */
export async function destroyRoom(
  deps: RoomDeps & { stopBrowser: StopBrowser },
  caller: RoomCaller,
  roomId: number,
) {
  await requireRoomOwner(deps.db, roomId, caller);
  const [gone] = await deps.db.delete(rooms).where(eq(rooms.id, roomId)).returning();
  if (!gone) throw roomNotFound();
  await recordActivity(deps.db, {
    userId: caller.userId,
    action: 'room_deleted',
    details: `Deleted chat "${gone.name}"`,
  });
  await stopDeleted(deps, gone);
  await publishRoomEvent(deps, roomId, { type: 'chat_state', state: 'destroyed' });
  await evictFromRoom(deps, roomId, null, 'destroyed');
  return { success: true as const };
}

/** The browser of a room whose row is gone; a node that cannot be reached closes it in its sweep. */
async function stopDeleted(deps: RoomDeps & { stopBrowser: StopBrowser }, gone: RoomRow) {
  if (gone.browserState !== 'running') return;
  await deps.stopBrowser(gone, 'destroyed').catch((err) => {
    deps.log.warn({ err, room_id: gone.id }, 'browser of a deleted room not stopped; its node sweeps it');
  });
}

/**
 * POST /chats/{id}/leave. The owner cannot leave their room (they destroy it); a direct room
 * whose last member leaves is deleted.
 */
export async function leaveRoom(
  deps: RoomDeps & { stopBrowser: StopBrowser },
  userId: number,
  roomId: number,
) {
  const { room, role } = await requireMembership(deps.db, roomId, userId);
  if (role === 'owner') throw new AppError('CONFLICT', 'The owner cannot leave; destroy the chat instead');
  await removeMember(deps, room, userId, 'left');
  return { success: true as const };
}

/** Removes a membership (leave, kick, ban) and tells the room; empty direct rooms go away. */
export async function removeMember(
  deps: RoomDeps & { stopBrowser: StopBrowser },
  room: RoomRow,
  userId: number,
  reason: string,
) {
  await deps.db
    .delete(roomMembers)
    .where(and(eq(roomMembers.roomId, room.id), eq(roomMembers.userId, userId)));
  await clearControlOf(deps, room.id, userId);
  await publishRoomEvent(deps, room.id, { type: 'member_left', user_id: userId, reason });
  await evictFromRoom(deps, room.id, userId, reason);
  if (room.kind === ROOM_KIND.DIRECT && (await memberCount(deps.db, room.id)) === 0) {
    const [gone] = await deps.db.delete(rooms).where(eq(rooms.id, room.id)).returning();
    if (gone) await stopDeleted(deps, gone);
  }
}

/** Members list ordered by role then join time. */
export async function listMembers(db: Db, roomId: number, userId: number, page: Page) {
  await requireMembership(db, roomId, userId);
  const rows = await db
    .select({
      userId: roomMembers.userId,
      username: users.username,
      role: roomMembers.role,
      mutedUntil: roomMembers.mutedUntil,
      timeoutUntil: roomMembers.timeoutUntil,
      joinedAt: roomMembers.joinedAt,
    })
    .from(roomMembers)
    .innerJoin(users, eq(users.id, roomMembers.userId))
    .where(eq(roomMembers.roomId, roomId))
    .orderBy(
      sql`case ${roomMembers.role} when 'owner' then 0 when 'moderator' then 1 else 2 end`,
      asc(roomMembers.joinedAt),
      asc(roomMembers.userId),
    )
    .limit(page.limit)
    .offset(page.offset);
  const now = new Date();
  return {
    members: rows.map((r) => memberView(r, now)),
    ...pageInfo(await memberCount(db, roomId), page),
  };
}

export { findRoom, memberCount };
