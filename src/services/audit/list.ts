import { and, count, desc, eq, gte, inArray, like, lt, or, type SQL, sql } from 'drizzle-orm';
import { z } from 'zod';
import { AppError } from '../../core/errors';
import type { Db } from '../../db/client';
import { auditLog, channelMembers, roomMembers, users } from '../../db/schema';
import { LEVEL } from '../users/policy';

// Reading the audit log (seed 002 "Audit Log MODERATOR+"): Admins and Owners read all of it;
// channel moderators read the entries of the channels they moderate, room owners and moderators
// those of their rooms; anyone else is refused. Filters: actor, target, action, time, scope.

const ZText = z.string().trim().min(1).max(100);

export const ZAuditQuery = z.strictObject({
  /** A username (or `system` / `automod`), or a user id. */
  actor: ZText.optional(),
  /** `type:id` (`user:5`, `channel:3`), `type:` for any of a type, `user:<username>`, or a username. */
  target: ZText.optional(),
  /** An exact action (`user.ban`) or a prefix ending in `*` (`automod.*`). */
  action: ZText.regex(/^[a-z0-9_.]+\*?$/, {
    error: 'action must be an action name, optionally ending in *',
  }).optional(),
  since: z.iso.datetime({ offset: true, error: 'since must be an ISO 8601 date-time' }).optional(),
  until: z.iso.datetime({ offset: true, error: 'until must be an ISO 8601 date-time' }).optional(),
  channel_id: z.number().int().positive().max(2_147_483_647).optional(),
  room_id: z.number().int().positive().max(2_147_483_647).optional(),
  limit: z.number().int().min(1).max(1000).default(50),
  offset: z.number().int().min(0).max(1_000_000).default(0),
});
export type AuditQuery = z.output<typeof ZAuditQuery>;

/** Who reads: the CLI's system owner, or a user with their site level. */
export type AuditViewer = { kind: 'system' } | { kind: 'user'; userId: number; level: number };

type Row = typeof auditLog.$inferSelect;

export function auditEntryView(r: Row) {
  return {
    id: r.id,
    created_at: r.createdAt.toISOString(),
    actor: r.actorLabel,
    actor_user_id: r.actorUserId,
    action: r.action,
    target_type: r.targetType,
    target_id: r.targetId,
    reason: r.reason,
    details: r.details,
    channel_id: r.channelId,
    room_id: r.roomId,
  };
}

/** The channels and rooms a non-admin moderates; null for Admin+ (everything). */
async function scopeOf(db: Db, viewer: AuditViewer) {
  if (viewer.kind === 'system' || viewer.level >= LEVEL.ADMIN) return null;
  const [channels, rooms] = await Promise.all([
    db
      .select({ id: channelMembers.channelId })
      .from(channelMembers)
      .where(and(eq(channelMembers.userId, viewer.userId), eq(channelMembers.role, 'moderator'))),
    db
      .select({ id: roomMembers.roomId })
      .from(roomMembers)
      .where(and(eq(roomMembers.userId, viewer.userId), inArray(roomMembers.role, ['owner', 'moderator']))),
  ]);
  if (channels.length === 0 && rooms.length === 0)
    throw new AppError('FORBIDDEN', 'Moderator access required');
  return { channels: channels.map((c) => c.id), rooms: rooms.map((r) => r.id) };
}

/** `type:id`, `type:` (any of that type), `user:<username>`, or a bare username. */
async function targetFilter(db: Db, target: string): Promise<SQL | undefined> {
  const colon = target.indexOf(':');
  if (colon < 0) return userTarget(db, target);
  const type = target.slice(0, colon);
  const id = target.slice(colon + 1);
  if (!id) return eq(auditLog.targetType, type);
  if (type === 'user' && !/^\d+$/.test(id)) return userTarget(db, id);
  return and(eq(auditLog.targetType, type), eq(auditLog.targetId, id));
}

async function userTarget(db: Db, username: string) {
  const [user] = await db
    .select({ id: users.id })
    .from(users)
    .where(sql`lower(${users.username}) = lower(${username})`);
  if (!user) throw new AppError('NOT_FOUND', 'User not found');
  return and(eq(auditLog.targetType, 'user'), eq(auditLog.targetId, String(user.id)));
}

const actorFilter = (actor: string) =>
  /^\d+$/.test(actor)
    ? eq(auditLog.actorUserId, Number(actor))
    : sql`lower(${auditLog.actorLabel}) = lower(${actor})`;

const actionFilter = (action: string) =>
  action.endsWith('*')
    ? like(auditLog.action, `${action.slice(0, -1).replace(/_/g, '\\_')}%`)
    : eq(auditLog.action, action);

/** Newest first, with the total that matches (for paging). */
export async function listAudit({ db, viewer, query }: { db: Db; viewer: AuditViewer; query: AuditQuery }) {
  const scope = await scopeOf(db, viewer);
  if (scope) {
    const asked =
      (query.channel_id !== undefined && !scope.channels.includes(query.channel_id)) ||
      (query.room_id !== undefined && !scope.rooms.includes(query.room_id));
    if (asked) throw new AppError('FORBIDDEN', 'Moderator access required');
  }
  const where = and(
    scope
      ? or(
          scope.channels.length ? inArray(auditLog.channelId, scope.channels) : undefined,
          scope.rooms.length ? inArray(auditLog.roomId, scope.rooms) : undefined,
        )
      : undefined,
    query.actor ? actorFilter(query.actor) : undefined,
    query.target ? await targetFilter(db, query.target) : undefined,
    query.action ? actionFilter(query.action) : undefined,
    query.since ? gte(auditLog.createdAt, new Date(query.since)) : undefined,
    // Times are shown to the millisecond and stored to the microsecond: `until` takes its whole ms.
    query.until ? lt(auditLog.createdAt, new Date(Date.parse(query.until) + 1)) : undefined,
    query.channel_id !== undefined ? eq(auditLog.channelId, query.channel_id) : undefined,
    query.room_id !== undefined ? eq(auditLog.roomId, query.room_id) : undefined,
  );
  const [rows, [total]] = await Promise.all([
    db
      .select()
      .from(auditLog)
      .where(where)
      .orderBy(desc(auditLog.id))
      .limit(query.limit)
      .offset(query.offset),
    db.select({ n: count() }).from(auditLog).where(where),
  ]);
  return {
    entries: rows.map(auditEntryView),
    total: total?.n ?? 0,
    limit: query.limit,
    offset: query.offset,
  };
}
