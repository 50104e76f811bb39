import { and, desc, eq, isNull, lt, sql } from 'drizzle-orm';
import { AppError } from '../../core/errors';
import type { Db } from '../../db/client';
import { notifications } from '../../db/schema';
import { notificationView } from './types';

// A user's own inbox (API.md §4). Every query is keyed by the user first: another user's
// notification is indistinguishable from one that does not exist.

const mine = (userId: number) => eq(notifications.userId, userId);
const unread = isNull(notifications.readAt);

export async function countUnread(db: Db, userId: number): Promise<number> {
  const [row] = await db
    .select({ n: sql<number>`count(*)::int` })
    .from(notifications)
    .where(and(mine(userId), unread));
  return Number(row?.n ?? 0);
}

/** GET /notifications: newest first, paged by `before_id`, with the unread count. */
export async function listNotifications(
  db: Db,
  opts: { userId: number; unreadOnly: boolean; limit: number; beforeId?: number | undefined },
) {
  const rows = await db
    .select()
    .from(notifications)
    .where(
      and(
        mine(opts.userId),
        opts.unreadOnly ? unread : undefined,
        opts.beforeId === undefined ? undefined : lt(notifications.id, opts.beforeId),
      ),
    )
    .orderBy(desc(notifications.id))
    .limit(opts.limit);
  return { notifications: rows.map(notificationView), unread_count: await countUnread(db, opts.userId) };
}

/** POST /notifications/{id}/read: idempotent; the first read time is kept. */
export async function markNotificationRead(db: Db, opts: { userId: number; id: number }) {
  const [row] = await db
    .update(notifications)
    .set({ readAt: sql`coalesce(${notifications.readAt}, now())` })
    .where(and(mine(opts.userId), eq(notifications.id, opts.id)))
    .returning({ id: notifications.id });
  if (!row) throw new AppError('NOT_FOUND', 'Notification not found');
  return { success: true as const };
}

/** POST /notifications/read-all: `count` is how many were unread. */
export async function markAllNotificationsRead(db: Db, userId: number) {
  const rows = await db
    .update(notifications)
    .set({ readAt: new Date() })
    .where(and(mine(userId), unread))
    .returning({ id: notifications.id });
  return { success: true as const, count: rows.length };
}
