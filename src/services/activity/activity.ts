import { desc, eq } from 'drizzle-orm';
import type { Db } from '../../db/client';
import { activityLog, users } from '../../db/schema';
import { LEVEL } from '../users/policy';

// The activity feed of seed 002 (`GET /api/activity`): what users did, one line each. Features
// record their own actions with `recordActivity`, in the transaction of the change when they have
// one. The kinds are listed in docs/moderation.md.

export const ACTIVITY_KINDS = [
  'registered',
  'signed_in',
  'signed_out',
  'password_changed',
  'two_factor_enabled',
  'two_factor_disabled',
  'api_key_created',
  'api_key_revoked',
  'api_key_deleted',
  'channel_created',
  'channel_deleted',
  'room_created',
  'room_deleted',
  'connection_created',
  'connection_deleted',
  'webhook_created',
  'webhook_deleted',
  'stream_started',
  'stream_stopped',
] as const;
export type ActivityKind = (typeof ACTIVITY_KINDS)[number];

export const ACTIVITY_LIMITS = { DEFAULT: 20, MAX: 50, DETAILS_MAX: 300 } as const;

export async function recordActivity(
  db: Db,
  entry: { userId: number; action: ActivityKind; details: string },
) {
  await db.insert(activityLog).values({
    userId: entry.userId,
    action: entry.action,
    details: entry.details.slice(0, ACTIVITY_LIMITS.DETAILS_MAX),
  });
}

/** Newest first: every user's for Admin+, the caller's own for everyone else. */
export async function listActivity(opts: {
  db: Db;
  viewer: { userId: number; level: number };
  limit: number;
}) {
  const all = opts.viewer.level >= LEVEL.ADMIN;
  const rows = await opts.db
    .select({ row: activityLog, username: users.username })
    .from(activityLog)
    .leftJoin(users, eq(users.id, activityLog.userId))
    .where(all ? undefined : eq(activityLog.userId, opts.viewer.userId))
    .orderBy(desc(activityLog.id))
    .limit(opts.limit);
  return {
    activities: rows.map(({ row, username }) => ({
      id: row.id,
      user_id: row.userId,
      username,
      action: row.action,
      details: row.details,
      created_at: row.createdAt.toISOString(),
    })),
  };
}
