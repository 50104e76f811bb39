import { desc } from 'drizzle-orm';
import type { Db } from '../../db/client';
import { auditLog } from '../../db/schema';

/** The newest `limit` audit entries, newest first. */
export async function listAuditLog(db: Db, limit: number) {
  const rows = await db.select().from(auditLog).orderBy(desc(auditLog.id)).limit(limit);
  const entries = rows.map((r) => ({
    id: r.id,
    created_at: r.createdAt.toISOString(),
    actor: r.actorLabel,
    actor_user_id: r.actorUserId,
    action: r.action,
    target_type: r.targetType,
    target_id: r.targetId,
    reason: r.reason,
    details: r.details,
  }));
  return { entries };
}
