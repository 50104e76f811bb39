import { z } from 'zod';
import type { AdminActor } from '../../services/admin/hierarchy';
import { deleteWebhook, updateWebhook } from '../../services/webhooks/manage';
import { listDeliveryLogs, listWebhooks } from '../../services/webhooks/views';
import { adminProcedure, router } from '../trpc';
import { webhookDeps } from './router';
import { ZDeliveryLogInput, ZWebhookId } from './schemas';

// The operators' side of webhooks (API.md §10), for the admin CLI: list them, switch one off or
// on (enabling resets its failure streak), delete one, read its delivery log. Not REST.

const actorOf = (actor: AdminActor) =>
  actor.kind === 'system'
    ? { userId: null, username: 'system', level: actor.level }
    : { userId: actor.userId, username: actor.username, level: actor.level };

export const webhooksAdminRouter = router({
  list: adminProcedure.input(z.void()).query(({ ctx }) => listWebhooks(webhookDeps(ctx))),
  setEnabled: adminProcedure
    .input(ZWebhookId.extend({ enabled: z.boolean() }))
    .mutation(({ ctx, input }) =>
      updateWebhook(webhookDeps(ctx), actorOf(ctx.actor), input.id, { enabled: input.enabled }),
    ),
  delete: adminProcedure
    .input(ZWebhookId)
    .mutation(({ ctx, input }) => deleteWebhook(webhookDeps(ctx), actorOf(ctx.actor), input.id)),
  deliveries: adminProcedure
    .input(ZDeliveryLogInput)
    .query(({ ctx, input: { id, ...page } }) => listDeliveryLogs(webhookDeps(ctx), id, page)),
});
