import { and, eq } from 'drizzle-orm';
import { AppError } from '../../core/errors';
import type { Db } from '../../db/client';
import { roomBans, roomMembers, users } from '../../db/schema';
import { type RoomNoticeAction, roomModerationNotice } from '../notifications/moderation';
import { type PreparedNotification, prepareNotification } from '../notifications/notify';
import { banInForce, findMember, outranks, rankOf, requireModerator } from './access';
import { clearControlOf } from './control';
import { publishRoomEvent } from './events';
import {
  expiryText,
  FOREVER,
  moderationEntryView,
  type RoomModerationAction,
  type RoomModerator,
  recordModeration,
} from './moderation-log';
import { type RoomDeps, removeMember, type StopBrowser } from './rooms';
import type { RoomMemberRow, RoomRole, RoomRow } from './types';

// Per-room moderation of seed 000 (API.md §5): the room's owner and moderators, and site Admins+
// (who rank at least as moderators), act on users strictly below them, never on themselves. Each
// action writes the room log and the audit log, tells the room, and notifies the target.

export type ModerationDeps = RoomDeps & { stopBrowser: StopBrowser };

export type ModerationInput = {
  user_id: number;
  reason?: string | undefined;
  duration_minutes?: number | undefined;
};

type Target = {
  room: RoomRow;
  user: { id: number; username: string };
  member: RoomMemberRow | null;
};

/** Caller may moderate, target exists (as a member when `needsMember`) and ranks below them. */
async function resolveTarget(
  db: Db,
  caller: RoomModerator,
  roomId: number,
  targetId: number,
  needsMember: boolean,
) {
  const { room, rank } = await requireModerator(db, roomId, caller);
  if (targetId === caller.userId) throw new AppError('BAD_REQUEST', 'You cannot moderate yourself');
  const [user] = await db
    .select({ id: users.id, username: users.username, level: users.permissionLevel })
    .from(users)
    .where(eq(users.id, targetId));
  const member = user ? await findMember(db, roomId, targetId) : null;
  if (needsMember && !member) throw new AppError('NOT_FOUND', 'Member not found');
  if (!user) throw new AppError('NOT_FOUND', 'User not found');
  const targetRank = rankOf((member?.role as RoomRole | undefined) ?? null, user.level);
  if (!outranks({ rank, level: caller.level }, targetRank)) {
    throw new AppError('FORBIDDEN', 'You can only moderate members below you');
  }
  return { room, user: { id: user.id, username: user.username }, member } satisfies Target;
}

type Applied = { minutes: number | undefined; actorId: number; reason: string | null };

type Spec = {
  needsMember: boolean;
  /**
   * `duration_minutes` means something: how long the restriction lasts (`default` when it is
   * left out; no default: until lifted). Other actions accept the field and ignore it.
   */
  timed?: { default?: number };
  /** The state change, in the transaction that writes the log; answers when a restriction ends. */
  apply?: (tx: Db, t: Target, a: Applied) => Promise<Date | null>;
  /** Once committed: removal, browser control. */
  after?: (deps: ModerationDeps, t: Target) => Promise<void>;
  /** Actions the target is told about (API.md §4 `moderation`). */
  notice?: RoomNoticeAction;
};

/** A room timeout without `duration_minutes` lasts this long (docs/decisions.md). */
export const DEFAULT_ROOM_TIMEOUT_MINUTES = 10;

const minutesFromNow = (minutes: number) => new Date(Date.now() + minutes * 60_000);

async function setRestriction(
  tx: Db,
  t: Target,
  values: Partial<Pick<RoomMemberRow, 'mutedUntil' | 'timeoutUntil'>>,
) {
  const updated = await tx
    .update(roomMembers)
    .set(values)
    .where(and(eq(roomMembers.roomId, t.room.id), eq(roomMembers.userId, t.user.id)))
    .returning({ userId: roomMembers.userId });
  // Left or removed since resolveTarget looked.
  if (!updated.length) throw new AppError('NOT_FOUND', 'Member not found');
}

const SPECS = {
  kick: {
    needsMember: true,
    notice: 'kick',
    after: (deps, t) => removeMember(deps, t.room, t.user.id, 'kicked'),
  },
  ban: {
    needsMember: false,
    notice: 'ban',
    timed: {},
    apply: async (tx, t, a) => {
      const expiresAt = a.minutes ? minutesFromNow(a.minutes) : null;
      const ban = { actorUserId: a.actorId, reason: a.reason, createdAt: new Date(), expiresAt };
      await tx
        .insert(roomBans)
        .values({ roomId: t.room.id, userId: t.user.id, ...ban })
        .onConflictDoUpdate({ target: [roomBans.roomId, roomBans.userId], set: ban });
      return expiresAt;
    },
    after: async (deps, t) => {
      if (t.member) await removeMember(deps, t.room, t.user.id, 'banned');
    },
  },
  unban: {
    needsMember: false,
    apply: async (tx, t) => {
      const lifted = await tx
        .delete(roomBans)
        .where(and(eq(roomBans.roomId, t.room.id), eq(roomBans.userId, t.user.id), banInForce()))
        .returning({ userId: roomBans.userId });
      if (!lifted.length) throw new AppError('NOT_FOUND', 'User is not banned from this chat');
      return null;
    },
  },
  mute: {
    needsMember: true,
    notice: 'mute',
    timed: {},
    apply: async (tx, t, { minutes }) => {
      const until = minutes ? minutesFromNow(minutes) : FOREVER;
      await setRestriction(tx, t, { mutedUntil: until });
      return until;
    },
  },
  unmute: {
    needsMember: true,
    apply: async (tx, t) => {
      await setRestriction(tx, t, { mutedUntil: null });
      return null;
    },
  },
  timeout: {
    needsMember: true,
    notice: 'timeout',
    timed: { default: DEFAULT_ROOM_TIMEOUT_MINUTES },
    apply: async (tx, t, { minutes }) => {
      const until = minutesFromNow(minutes ?? DEFAULT_ROOM_TIMEOUT_MINUTES);
      await setRestriction(tx, t, { timeoutUntil: until });
      return until;
    },
    after: (deps, t) => clearControlOf(deps, t.room.id, t.user.id),
  },
  warn: { needsMember: true, notice: 'warn' },
} satisfies Record<Exclude<RoomModerationAction, 'clear' | 'delete_message'>, Spec>;

export type RoomModerationKind = keyof typeof SPECS;

/** POST /chats/{id}/moderation/{action}: one function for all seven, driven by SPECS. */
export async function moderateRoomMember(
  deps: ModerationDeps,
  caller: RoomModerator,
  roomId: number,
  kind: RoomModerationKind,
  input: ModerationInput,
) {
  const spec: Spec = SPECS[kind];
  const t = await resolveTarget(deps.db, caller, roomId, input.user_id, spec.needsMember);
  const reason = input.reason?.trim() || null;
  const minutes = spec.timed ? (input.duration_minutes ?? spec.timed.default) : undefined;
  const { row, notice } = await deps.db.transaction(async (txRaw) => {
    const tx = txRaw as unknown as Db;
    const expiresAt = spec.apply
      ? await spec.apply(tx, t, { minutes, actorId: caller.userId, reason })
      : null;
    const row = await recordModeration(tx, {
      roomId,
      actor: caller,
      action: kind,
      targetUserId: t.user.id,
      reason,
      durationMinutes: expiresAt && expiresAt < FOREVER ? (minutes ?? null) : null,
      expiresAt,
    });
    let notice: PreparedNotification | null = null;
    if (spec.notice) {
      notice = await prepareNotification(
        tx,
        roomModerationNotice(t.user.id, {
          action: spec.notice,
          room: { id: roomId, name: t.room.name },
          reason,
          minutes: expiresAt && expiresAt < FOREVER ? minutes : null,
          expiresAt: expiresAt && expiresAt < FOREVER ? expiresAt : null,
        }),
      );
    }
    return { row, notice };
  });
  // The room hears it first, so a kicked or banned member still gets the event before eviction.
  await publishRoomEvent(deps, roomId, {
    type: 'moderation',
    action: kind,
    user_id: t.user.id,
    actor_id: caller.userId,
    reason,
    expires_at: expiryText(row.expiresAt),
  });
  if (spec.after) await spec.after(deps, t);
  await notice?.publish(deps);
  return moderationEntryView(row, { username: t.user.username, actorUsername: caller.username });
}
