import { type AuditViewer, listAudit } from '../../services/audit/list';
import { ZAuditListInput } from '../admin/schemas';
import { authedProcedure, router } from '../trpc';

// The audit log for moderators (seed 002 "Audit Log MODERATOR+"). API.md §8 keeps the audit log off
// REST, so channel and room moderators read their part over typed tRPC (`audit.list` at /trpc);
// Admins and Owners read everything here too, as through the admin router.

export const auditRouter = router({
  list: authedProcedure.input(ZAuditListInput).query(({ ctx, input }) => {
    const viewer: AuditViewer = { kind: 'user', userId: ctx.actor.userId, level: ctx.actor.level };
    return listAudit({ db: ctx.db, viewer, query: input });
  }),
});
