import { desc, eq } from 'drizzle-orm';
import type { Db } from '../../db/client';
import { announcements } from '../../db/schema';
import { announcementView, createAnnouncement, deleteAnnouncement } from '../announcements/announcements';
import { writeAudit } from '../audit/audit';
import { auditActorOf } from '../auth/actor';
import { type PushDeps, prepareNotification } from '../notifications/notify';
import { type AdminActor, inTransaction } from './hierarchy';

// Announcements shown by GET /announcements; admins create and delete them (API.md §10).

const DAY_MS = 24 * 60 * 60 * 1000;

/**
 * Also an `announcement` notification to every user (API.md §4), written in the same transaction
 * as the announcement and pushed once it has committed.
 */
export async function adminCreateAnnouncement(
  opts: PushDeps & {
    db: Db;
    actor: AdminActor;
    title: string;
    message: string;
    expiresInDays?: number | undefined;
  },
) {
  const expiresAt =
    opts.expiresInDays === undefined ? null : new Date(Date.now() + opts.expiresInDays * DAY_MS);
  const { view, notice } = await inTransaction(opts.db, async (tx) => {
    const row = await createAnnouncement(tx, {
      title: opts.title,
      message: opts.message,
      createdBy: opts.actor.kind === 'user' ? opts.actor.userId : null,
      expiresAt,
    });
    await writeAudit(tx, {
      actor: auditActorOf(opts.actor),
      action: 'announcement.create',
      targetType: 'announcement',
      targetId: row.id,
      details: { title: row.title, expires_at: expiresAt?.toISOString() ?? null },
    });
    const notice = await prepareNotification(tx, {
      userIds: 'all',
      type: 'announcement',
      title: row.title,
      message: row.message,
      data: { announcement_id: row.id },
    });
    await tx
      .update(announcements)
      .set({ notificationId: notice.notification.id })
      .where(eq(announcements.id, row.id));
    return { view: announcementView(row), notice };
  });
  await notice.publish(opts);
  return view;
}

export function adminDeleteAnnouncement(opts: { db: Db; actor: AdminActor; id: number }) {
  return inTransaction(opts.db, async (tx) => {
    await deleteAnnouncement(tx, opts.id);
    await writeAudit(tx, {
      actor: auditActorOf(opts.actor),
      action: 'announcement.delete',
      targetType: 'announcement',
      targetId: opts.id,
    });
    return { id: opts.id, deleted: true as const };
  });
}

/** Every announcement, expired ones included (so they can be found and deleted), newest first. */
export async function listAllAnnouncements(db: Db, now = new Date()) {
  const rows = await db.select().from(announcements).orderBy(desc(announcements.id)).limit(200);
  return {
    announcements: rows.map((row) => ({
      ...announcementView(row),
      active: row.expiresAt === null || row.expiresAt > now,
    })),
  };
}
