import { and, count, desc, eq, gt, isNull, lt, or, sql } from 'drizzle-orm';
import { randomToken } from '../../core/crypto';
import { AppError } from '../../core/errors';
import type { Db } from '../../db/client';
import { roomBans, roomInvites, roomMembers, rooms, users } from '../../db/schema';
import { banInForce, type RoomCaller, requireModerator, roomNotFound } from './access';
import { publishRoomEvent } from './events';
import { activeRestrictions } from './moderation-log';
import type { RoomDeps } from './rooms';
import { ROOM_KIND, type RoomRole } from './types';
import { type Page, pageInfo, roomView } from './views';

// Room invites (API.md §5): moderator+ create them with an expiry and a use limit; anyone signed
// in joins with the code unless banned from the room or the room is full.

export const INVITE_LIMITS = {
  DEFAULT_MINUTES: 24 * 60,
  MAX_MINUTES: 30 * 24 * 60,
  MAX_USES: 10_000,
  /** Live invites per room, so a room cannot pile up codes forever. */
  PER_ROOM: 100,
} as const;

const inviteView = (i: typeof roomInvites.$inferSelect) => ({
  code: i.code,
  expires_at: i.expiresAt?.toISOString() ?? null,
  max_uses: i.maxUses,
  uses: i.uses,
  created_at: i.createdAt.toISOString(),
});

const live = (now: Date) =>
  and(
    or(isNull(roomInvites.expiresAt), gt(roomInvites.expiresAt, now)),
    or(isNull(roomInvites.maxUses), lt(roomInvites.uses, roomInvites.maxUses)),
  );

export async function createInvite(
  db: Db,
  caller: RoomCaller,
  roomId: number,
  input: { expires_in_minutes?: number | undefined; max_uses?: number | undefined },
) {
  const { room } = await requireModerator(db, roomId, caller);
  if (room.kind === ROOM_KIND.DIRECT) throw new AppError('CONFLICT', 'Direct chats take no invites');
  const now = new Date();
  const [{ n } = { n: 0 }] = await db
    .select({ n: sql<number>`count(*)::int` })
    .from(roomInvites)
    .where(and(eq(roomInvites.roomId, roomId), live(now)));
  if (Number(n) >= INVITE_LIMITS.PER_ROOM) {
    throw new AppError('CONFLICT', `A chat can have at most ${INVITE_LIMITS.PER_ROOM} active invites`);
  }
  const minutes = input.expires_in_minutes ?? INVITE_LIMITS.DEFAULT_MINUTES;
  const [invite] = await db
    .insert(roomInvites)
    .values({
      code: randomToken(12),
      roomId,
      createdBy: caller.userId,
      expiresAt: new Date(now.getTime() + minutes * 60_000),
      maxUses: input.max_uses ?? null,
    })
    .returning();
  return inviteView(invite!);
}

/** Active invites of a room (moderator+), newest first. */
export async function listInvites(db: Db, caller: RoomCaller, roomId: number, page: Page) {
  await requireModerator(db, roomId, caller);
  const active = and(eq(roomInvites.roomId, roomId), live(new Date()));
  const [rows, [total]] = await Promise.all([
    db
      .select()
      .from(roomInvites)
      .where(active)
      .orderBy(desc(roomInvites.createdAt), desc(roomInvites.code))
      .limit(page.limit)
      .offset(page.offset),
    db.select({ n: count() }).from(roomInvites).where(active),
  ]);
  return { invites: rows.map(inviteView), ...pageInfo(total?.n, page) };
}

export async function deleteInvite(db: Db, caller: RoomCaller, roomId: number, code: string) {
  await requireModerator(db, roomId, caller);
  const deleted = await db
    .delete(roomInvites)
    .where(and(eq(roomInvites.roomId, roomId), eq(roomInvites.code, code)))
    .returning({ code: roomInvites.code });
  if (!deleted.length) throw new AppError('NOT_FOUND', 'Invite not found');
  return { success: true as const };
}

/**
 * POST /chats/join/{code}. The room row is locked while the member count is checked, so two
 * joins cannot both take the last place; the use is counted in the same transaction. Joining a
 * room one is already in returns it and costs no use.
 */
export async function joinByInvite(deps: RoomDeps, userId: number, code: string) {
  const now = new Date();
  const result = await deps.db.transaction(async (txRaw) => {
    const tx = txRaw as unknown as Db;
    const [invite] = await tx.select().from(roomInvites).where(eq(roomInvites.code, code)).limit(1);
    if (!invite) throw new AppError('NOT_FOUND', 'Invite not found');
    if (invite.expiresAt && invite.expiresAt <= now) throw new AppError('NOT_FOUND', 'Invite has expired');
    const usedUp = () => new AppError('NOT_FOUND', 'Invite has been used up');
    const [room] = await tx.select().from(rooms).where(eq(rooms.id, invite.roomId)).for('update');
    if (!room) throw roomNotFound();
    const [existing] = await tx
      .select({ role: roomMembers.role })
      .from(roomMembers)
      .where(and(eq(roomMembers.roomId, room.id), eq(roomMembers.userId, userId)));
    const [{ n } = { n: 0 }] = await tx
      .select({ n: sql<number>`count(*)::int` })
      .from(roomMembers)
      .where(eq(roomMembers.roomId, room.id));
    if (existing) return { room, role: existing.role as RoomRole, count: Number(n), joined: false };
    if (invite.maxUses !== null && invite.uses >= invite.maxUses) throw usedUp();
    const [ban] = await tx
      .select({ expiresAt: roomBans.expiresAt })
      .from(roomBans)
      .where(and(eq(roomBans.roomId, room.id), eq(roomBans.userId, userId), banInForce(now)));
    if (ban) {
      throw new AppError('FORBIDDEN', 'You are banned from this chat', {
        reason: 'room_banned',
        ...(ban.expiresAt && { expires_at: ban.expiresAt.toISOString() }),
      });
    }
    if (Number(n) >= room.maxMembers) throw new AppError('CONFLICT', 'This chat is full');
    const used = await tx
      .update(roomInvites)
      .set({ uses: sql`${roomInvites.uses} + 1` })
      .where(
        and(
          eq(roomInvites.code, code),
          or(isNull(roomInvites.maxUses), lt(roomInvites.uses, roomInvites.maxUses)),
        ),
      )
      .returning({ uses: roomInvites.uses });
    if (!used.length) throw usedUp();
    const restrictions = await activeRestrictions(tx, room.id, userId, now);
    await tx.insert(roomMembers).values({ roomId: room.id, userId, role: 'member', ...restrictions });
    return { room, role: 'member' as RoomRole, count: Number(n) + 1, joined: true };
  });
  if (result.joined) {
    const [user] = await deps.db.select({ username: users.username }).from(users).where(eq(users.id, userId));
    await publishRoomEvent(deps, result.room.id, {
      type: 'member_joined',
      member: { user_id: userId, username: user?.username ?? null, role: 'member' },
    });
  }
  return roomView(result.room, { role: result.role, memberCount: result.count });
}
