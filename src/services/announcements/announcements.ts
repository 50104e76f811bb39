import { and, desc, eq, gt, isNull, or, sql } from 'drizzle-orm';
import { AppError } from '../../core/errors';
import type { Db } from '../../db/client';
import { announcements } from '../../db/schema';

type AnnouncementRow = typeof announcements.$inferSelect;

export const announcementView = (a: AnnouncementRow) => ({
  id: a.id,
  title: a.title,
  message: a.message,
  created_at: a.createdAt.toISOString(),
  expires_at: a.expiresAt?.toISOString() ?? null,
});

/** GET /announcements: the ones that have not expired, newest first. */
export async function listActiveAnnouncements(db: Db, now = new Date()) {
  const rows = await db
    .select()
    .from(announcements)
    .where(or(isNull(announcements.expiresAt), gt(announcements.expiresAt, now)))
    .orderBy(desc(announcements.createdAt), desc(announcements.id))
    .limit(100);
  return rows.map(announcementView);
}

export async function createAnnouncement(
  db: Db,
  opts: { title: string; message: string; createdBy: number | null; expiresAt: Date | null },
) {
  const [row] = await db.insert(announcements).values(opts).returning();
  return row!;
}

export async function deleteAnnouncement(db: Db, id: number) {
  const rows = await db
    .delete(announcements)
    .where(and(eq(announcements.id, id)))
    .returning({ id: announcements.id });
  if (rows.length === 0) throw new AppError('NOT_FOUND', 'Announcement not found');
}

/**
 * A new user's inbox gets the active announcements (API.md §4: they appear to every user,
 * including users who register later), under the notification id the others share.
 */
export async function deliverActiveAnnouncements(db: Db, userId: number, now = new Date()) {
  await db.execute(sql`insert into notifications (id, user_id, type, title, message, data, created_at)
    select a.notification_id, ${userId}::int, 'announcement', a.title, a.message,
      jsonb_build_object('announcement_id', a.id), a.created_at
    from announcements a
    where a.notification_id is not null
      and (a.expires_at is null or a.expires_at > ${now.toISOString()}::timestamptz)
    on conflict do nothing`);
}
