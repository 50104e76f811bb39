import { z } from 'zod';
import { createRule, deleteRule, getRule, listRules, updateRule } from '../../services/automod/rules';
import { AUTOMOD_CONTEXTS, ZAutomodRule, ZAutomodRulePatch } from '../../services/automod/schemas';
import { previewAutomod } from '../../services/automod/triggers';
import { adminProcedure, router } from '../trpc';

// Auto-moderation rules (seed 002 "Auto-Moderation ADMIN"; API.md §8: admin CLI and typed admin
// router, not REST). The services validate, audit and spread changes to every node.

const ZRuleId = z.object({ id: z.number().int().positive().max(2_147_483_647) });

const ZPreviewInput = z.strictObject({
  text: z.string().min(1).max(4000),
  context: z.enum(AUTOMOD_CONTEXTS).default('channel'),
  channel_id: z.number().int().positive().max(2_147_483_647).optional(),
});

export const automodAdminRouter = router({
  list: adminProcedure.input(z.void()).query(({ ctx }) => listRules(ctx.db)),
  get: adminProcedure.input(ZRuleId).query(({ ctx, input }) => getRule(ctx.db, input.id)),
  create: adminProcedure
    .input(ZAutomodRule)
    .mutation(({ ctx, input }) => createRule({ db: ctx.db, bus: ctx.deps.bus, actor: ctx.actor }, input)),
  update: adminProcedure
    .input(ZAutomodRulePatch.extend(ZRuleId.shape))
    .mutation(({ ctx, input: { id, ...patch } }) =>
      updateRule({ db: ctx.db, bus: ctx.deps.bus, actor: ctx.actor }, id, patch),
    ),
  delete: adminProcedure
    .input(ZRuleId)
    .mutation(({ ctx, input }) => deleteRule({ db: ctx.db, bus: ctx.deps.bus, actor: ctx.actor }, input.id)),
  /** Which enabled rules a text would trigger, without acting, auditing or counting it. */
  test: adminProcedure.input(ZPreviewInput).query(({ ctx, input }) =>
    previewAutomod(
      { db: ctx.db, bus: ctx.deps.bus, log: ctx.log },
      {
        context: input.context,
        text: input.text,
        ...(input.channel_id !== undefined && { channelId: input.channel_id }),
      },
    ),
  ),
});
