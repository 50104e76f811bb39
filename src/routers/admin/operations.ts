import { resolve } from 'node:path';
import { z } from 'zod';
import { listServiceChecks } from '../../services/connections/service-checks';
import {
  listRetentionPolicies,
  resetRetentionPolicy,
  setRetentionPolicy,
} from '../../services/retention/policies';
import { runRetentionNow } from '../../services/retention/run-policies';
import { listSettings, resetSetting, rotateInviteCode, setSetting } from '../../services/settings/settings';
import { adminProcedure, router } from '../trpc';
import {
  ZRetentionKindInput,
  ZRetentionRunInput,
  ZRetentionSetInput,
  ZServiceChecksInput,
  ZSettingKeyInput,
  ZSettingSetInput,
  ZSettingsGetInput,
} from './operations-schemas';

// Operator settings of API.md §8/§10 (seed 002 "Server Settings", "Data Retention"): admin router
// and CLI only. Thin: each procedure is one service call; the services validate and audit.

export const settingsRouter = router({
  get: adminProcedure
    .input(ZSettingsGetInput)
    .query(({ ctx, input }) => listSettings({ db: ctx.db, env: ctx.deps.env, key: input.key })),
  set: adminProcedure
    .input(ZSettingSetInput)
    .mutation(({ ctx, input }) =>
      setSetting({ db: ctx.db, env: ctx.deps.env, actor: ctx.actor, live: ctx.deps.settings, ...input }),
    ),
  reset: adminProcedure
    .input(ZSettingKeyInput)
    .mutation(({ ctx, input }) =>
      resetSetting({ db: ctx.db, env: ctx.deps.env, actor: ctx.actor, live: ctx.deps.settings, ...input }),
    ),
});

export const inviteRotateProcedure = adminProcedure
  .input(z.void())
  .mutation(({ ctx }) => rotateInviteCode({ db: ctx.db, actor: ctx.actor, secretKey: ctx.deps.secretKey }));

export const retentionRouter = router({
  list: adminProcedure
    .input(z.void())
    .query(async ({ ctx }) => ({ policies: await listRetentionPolicies({ db: ctx.db, env: ctx.deps.env }) })),
  set: adminProcedure
    .input(ZRetentionSetInput)
    .mutation(({ ctx, input }) =>
      setRetentionPolicy({ db: ctx.db, env: ctx.deps.env, actor: ctx.actor, ...input }),
    ),
  reset: adminProcedure
    .input(ZRetentionKindInput)
    .mutation(({ ctx, input }) =>
      resetRetentionPolicy({ db: ctx.db, env: ctx.deps.env, actor: ctx.actor, ...input }),
    ),
  run: adminProcedure.input(ZRetentionRunInput).mutation(({ ctx, input }) =>
    runRetentionNow({
      db: ctx.db,
      env: ctx.deps.env,
      log: ctx.log,
      actor: ctx.actor,
      dryRun: input.dryRun,
      kind: input.kind,
      uploads: {
        secretBox: ctx.deps.secretBox,
        secretKey: ctx.deps.secretKey,
        dataDir: resolve(ctx.deps.env.DATA_DIR),
        log: ctx.log,
      },
    }),
  ),
});

export const serviceChecksProcedure = adminProcedure
  .input(ZServiceChecksInput)
  .query(({ ctx, input }) => listServiceChecks(ctx.db, input));
