import { z } from 'zod';
import {
  adminCreateAnnouncement,
  adminDeleteAnnouncement,
  listAllAnnouncements,
} from '../../services/admin/announcements';
import { adminCreateBot, setBotRateLimit, setBotType } from '../../services/admin/bots';
import type { AdminActor } from '../../services/admin/hierarchy';
import { todaysInviteCode } from '../../services/admin/invites';
import {
  adminCreateService,
  adminDeleteService,
  adminListServices,
  adminUpdateService,
} from '../../services/admin/services';
import { grantSubscription, revokeSubscription } from '../../services/admin/subscriptions';
import { systemHealth } from '../../services/admin/system-health';
import {
  adminCreateUser,
  banUser,
  deleteUser,
  setUserLevel,
  setUserScopes,
  timeoutUser,
  unbanUser,
  warnUser,
} from '../../services/admin/users';
import { type AuditViewer, listAudit } from '../../services/audit/list';
import { adminBroadcast, adminNotifyUser } from '../../services/notifications/admin';
import { ZCreateServiceInput, ZServiceIdInput, ZUpdateServiceInput } from '../services/schemas';
import { adminProcedure, router } from '../trpc';
import { webhooksAdminRouter } from '../webhooks/admin';
import { automodAdminRouter } from './automod';
import { certificatesRouter } from './certificates';
import { inviteRotateProcedure, retentionRouter, serviceChecksProcedure, settingsRouter } from './operations';
import {
  ZAuditListInput,
  ZBroadcastInput,
  ZCreateAnnouncementInput,
  ZCreateBotInput,
  ZCreateUserInput,
  ZDeleteAnnouncementInput,
  ZGrantInput,
  ZNotifyUserInput,
  ZRevokeInput,
  ZSetBotRateLimitInput,
  ZSetBotTypeInput,
  ZSetLevelInput,
  ZSetScopesInput,
  ZTimeoutInput,
  ZUserAction,
} from './schemas';

// The admin surface of API.md §10: typed tRPC for the admin CLI (in-process or through the local
// admin channel) and for admin tools over /trpc. Not REST, so no openapi meta. Procedures are thin:
// the services enforce the seed 003 hierarchy and write the audit log.

const auditViewerOf = (actor: AdminActor): AuditViewer =>
  actor.kind === 'system' ? { kind: 'system' } : { kind: 'user', userId: actor.userId, level: actor.level };

const users = router({
  create: adminProcedure
    .input(ZCreateUserInput)
    .mutation(({ ctx, input }) =>
      adminCreateUser({ db: ctx.db, secretBox: ctx.deps.secretBox, actor: ctx.actor, ...input }),
    ),
  ban: adminProcedure
    .input(ZUserAction)
    .mutation(({ ctx, input }) =>
      banUser({ db: ctx.db, bus: ctx.deps.bus, log: ctx.log, actor: ctx.actor, ...input }),
    ),
  unban: adminProcedure
    .input(ZUserAction)
    .mutation(({ ctx, input }) => unbanUser({ db: ctx.db, actor: ctx.actor, ...input })),
  warn: adminProcedure
    .input(ZUserAction)
    .mutation(({ ctx, input }) =>
      warnUser({ db: ctx.db, bus: ctx.deps.bus, log: ctx.log, actor: ctx.actor, ...input }),
    ),
  timeout: adminProcedure
    .input(ZTimeoutInput)
    .mutation(({ ctx, input }) =>
      timeoutUser({ db: ctx.db, bus: ctx.deps.bus, log: ctx.log, actor: ctx.actor, ...input }),
    ),
  delete: adminProcedure
    .input(ZUserAction)
    .mutation(({ ctx, input }) => deleteUser({ db: ctx.db, actor: ctx.actor, ...input })),
  setScopes: adminProcedure
    .input(ZSetScopesInput)
    .mutation(({ ctx, input }) => setUserScopes({ db: ctx.db, actor: ctx.actor, ...input })),
  setLevel: adminProcedure
    .input(ZSetLevelInput)
    .mutation(({ ctx, input }) => setUserLevel({ db: ctx.db, actor: ctx.actor, ...input })),
});

const subscriptions = router({
  grant: adminProcedure
    .input(ZGrantInput)
    .mutation(({ ctx, input }) => grantSubscription({ db: ctx.db, actor: ctx.actor, ...input })),
  revoke: adminProcedure
    .input(ZRevokeInput)
    .mutation(({ ctx, input }) => revokeSubscription({ db: ctx.db, actor: ctx.actor, ...input })),
});

const bots = router({
  create: adminProcedure
    .input(ZCreateBotInput)
    .mutation(({ ctx, input }) => adminCreateBot({ db: ctx.db, actor: ctx.actor, ...input })),
  setType: adminProcedure
    .input(ZSetBotTypeInput)
    .mutation(({ ctx, input }) => setBotType({ db: ctx.db, actor: ctx.actor, ...input })),
  setRateLimit: adminProcedure
    .input(ZSetBotRateLimitInput)
    .mutation(({ ctx, input }) => setBotRateLimit({ db: ctx.db, actor: ctx.actor, ...input })),
});

const announcements = router({
  create: adminProcedure
    .input(ZCreateAnnouncementInput)
    .mutation(({ ctx, input }) =>
      adminCreateAnnouncement({ db: ctx.db, bus: ctx.deps.bus, log: ctx.log, actor: ctx.actor, ...input }),
    ),
  delete: adminProcedure
    .input(ZDeleteAnnouncementInput)
    .mutation(({ ctx, input }) => adminDeleteAnnouncement({ db: ctx.db, actor: ctx.actor, ...input })),
  list: adminProcedure.input(z.void()).query(({ ctx }) => listAllAnnouncements(ctx.db)),
});

const notifications = router({
  notify: adminProcedure
    .input(ZNotifyUserInput)
    .mutation(({ ctx, input }) =>
      adminNotifyUser({ db: ctx.db, bus: ctx.deps.bus, log: ctx.log, actor: ctx.actor, ...input }),
    ),
  broadcast: adminProcedure
    .input(ZBroadcastInput)
    .mutation(({ ctx, input }) =>
      adminBroadcast({ db: ctx.db, bus: ctx.deps.bus, log: ctx.log, actor: ctx.actor, ...input }),
    ),
});

const services = router({
  create: adminProcedure
    .input(ZCreateServiceInput)
    .mutation(({ ctx, input }) =>
      adminCreateService({ db: ctx.db, box: ctx.deps.secretBox, actor: ctx.actor, ...input }),
    ),
  update: adminProcedure
    .input(ZUpdateServiceInput)
    .mutation(({ ctx, input }) =>
      adminUpdateService({ db: ctx.db, box: ctx.deps.secretBox, actor: ctx.actor, ...input }),
    ),
  delete: adminProcedure
    .input(ZServiceIdInput)
    .mutation(({ ctx, input }) => adminDeleteService({ db: ctx.db, actor: ctx.actor, ...input })),
  list: adminProcedure.input(z.void()).query(({ ctx }) => adminListServices(ctx.db)),
  checks: serviceChecksProcedure,
});

export const adminRouter = router({
  users,
  services,
  subscriptions,
  bots,
  announcements,
  notifications,
  invites: router({
    today: adminProcedure
      .input(z.void())
      .query(({ ctx }) => todaysInviteCode({ db: ctx.db, actor: ctx.actor, secretKey: ctx.deps.secretKey })),
    rotate: inviteRotateProcedure,
  }),
  settings: settingsRouter,
  certificates: certificatesRouter,
  retention: retentionRouter,
  audit: router({
    list: adminProcedure
      .input(ZAuditListInput)
      .query(({ ctx, input }) => listAudit({ db: ctx.db, viewer: auditViewerOf(ctx.actor), query: input })),
  }),
  health: router({
    system: adminProcedure.input(z.void()).query(({ ctx }) =>
      systemHealth({
        database: ctx.deps.database,
        bus: ctx.deps.bus,
        dataDir: ctx.deps.env.DATA_DIR,
        build: ctx.deps.build,
        realtime: ctx.deps.realtime,
      }),
    ),
  }),
  webhooks: webhooksAdminRouter,
  automod: automodAdminRouter,
});

export type AdminRouter = typeof adminRouter;
