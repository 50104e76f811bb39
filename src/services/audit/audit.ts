import type { Db } from '../../db/client';
import { auditLog } from '../../db/schema';

export type AuditActor = { userId: number | null; label: string };

export type AuditEntry = {
  actor: AuditActor;
  action: string;
  targetType?: string;
  targetId?: string | number;
  reason?: string | null;
  details?: Record<string, unknown>;
  /** The channel or room concerned: its moderators read the entry (services/audit/list.ts). */
  channelId?: number | null;
  roomId?: number | null;
};

/** Every admin action is written here (API.md §10), inside the caller's transaction when given one. */
export async function writeAudit(db: Db, entry: AuditEntry) {
  await db.insert(auditLog).values({
    actorUserId: entry.actor.userId,
    actorLabel: entry.actor.label,
    action: entry.action,
    targetType: entry.targetType ?? null,
    targetId: entry.targetId === undefined ? null : String(entry.targetId),
    reason: entry.reason ?? null,
    details: entry.details ?? null,
    channelId: entry.channelId ?? null,
    roomId: entry.roomId ?? null,
  });
}
