import { z } from 'zod';
import { AppError } from '../../core/errors';
import { LEVEL } from '../../services/users/policy';
import { postIncomingMessage } from '../../services/webhooks/incoming';
import {
  createWebhook,
  deleteWebhook,
  rotateWebhookSecret,
  testWebhook,
  updateWebhook,
} from '../../services/webhooks/manage';
import { getWebhook, listDeliveryLogs, listWebhooks } from '../../services/webhooks/views';
import type { Context } from '../context';
import { ZSuccess } from '../fields';
import { authedProcedure, publicProcedure, router } from '../trpc';
import {
  ZCreatedWebhook,
  ZCreateWebhookInput,
  ZDeliveryLogInput,
  ZDeliveryLogPage,
  ZIncomingInput,
  ZIncomingPosted,
  ZRotatedSecret,
  ZTestQueued,
  ZUpdateWebhookInput,
  ZWebhook,
  ZWebhookId,
  ZWebhookList,
} from './schemas';

const tags = ['Webhooks'];

/** What the webhook services need from a request. */
export const webhookDeps = (ctx: Pick<Context, 'db' | 'log' | 'deps'>) => ({
  ...ctx.deps,
  db: ctx.db,
  log: ctx.log,
});

/** Webhooks are managed by Admin+ (seed 002), over the AUTH tier like the rest of /api. */
const manageProcedure = authedProcedure.use(({ ctx, next }) => {
  if (ctx.actor.level < LEVEL.ADMIN) throw new AppError('FORBIDDEN', 'Admin access required');
  return next();
});

const actorOf = (ctx: { actor: { userId: number; username: string; level: number } }) => ({
  userId: ctx.actor.userId,
  username: ctx.actor.username,
  level: ctx.actor.level,
});

/** Outgoing and incoming webhooks of API.md §8 (seed 002 "Webhooks"). */
export const webhooksRouter = router({
  list: manageProcedure
    .meta({ openapi: { method: 'GET', path: '/api/webhooks', tags, summary: 'Every webhook, with owners' } })
    .input(z.void())
    .output(ZWebhookList)
    .query(({ ctx }) => listWebhooks(webhookDeps(ctx))),

  create: manageProcedure
    .meta({
      openapi: {
        method: 'POST',
        path: '/api/webhooks',
        tags,
        summary: 'Create an outgoing or incoming webhook (25 per user; the secret is shown once)',
      },
    })
    .input(ZCreateWebhookInput)
    .output(ZCreatedWebhook)
    .mutation(({ ctx, input }) => createWebhook(webhookDeps(ctx), actorOf(ctx), input)),

  get: manageProcedure
    .meta({ openapi: { method: 'GET', path: '/api/webhooks/{id}', tags, summary: 'One webhook' } })
    .input(ZWebhookId)
    .output(ZWebhook)
    .query(({ ctx, input }) => getWebhook(webhookDeps(ctx), input.id)),

  update: manageProcedure
    .meta({
      openapi: {
        method: 'PUT',
        path: '/api/webhooks/{id}',
        tags,
        summary: 'Change name, URL, events, channel or enabled state',
      },
    })
    .input(ZUpdateWebhookInput)
    .output(ZWebhook)
    .mutation(({ ctx, input: { id, ...patch } }) => updateWebhook(webhookDeps(ctx), actorOf(ctx), id, patch)),

  delete: manageProcedure
    .meta({
      openapi: {
        method: 'DELETE',
        path: '/api/webhooks/{id}',
        tags,
        summary: 'Delete a webhook with its deliveries and logs',
      },
    })
    .input(ZWebhookId)
    .output(ZSuccess)
    .mutation(({ ctx, input }) => deleteWebhook(webhookDeps(ctx), actorOf(ctx), input.id)),

  deliveries: manageProcedure
    .meta({
      openapi: {
        method: 'GET',
        path: '/api/webhooks/{id}/deliveries',
        tags,
        summary: 'Delivery log, newest attempt first (kept 7 days)',
      },
    })
    .input(ZDeliveryLogInput)
    .output(ZDeliveryLogPage)
    .query(({ ctx, input: { id, ...page } }) => listDeliveryLogs(webhookDeps(ctx), id, page)),

  test: manageProcedure
    .meta({
      openapi: {
        method: 'POST',
        path: '/api/webhooks/{id}/test',
        tags,
        summary: 'Queue a webhook.test event',
      },
    })
    .input(ZWebhookId)
    .output(ZTestQueued)
    .mutation(({ ctx, input }) => testWebhook(webhookDeps(ctx), input.id)),

  rotateSecret: manageProcedure
    .meta({
      openapi: {
        method: 'POST',
        path: '/api/webhooks/{id}/rotate-secret',
        tags,
        summary: 'New signing secret (outgoing) or token (incoming); the old one stops working at once',
      },
    })
    .input(ZWebhookId)
    .output(ZRotatedSecret)
    .mutation(({ ctx, input }) => rotateWebhookSecret(webhookDeps(ctx), actorOf(ctx), input.id)),
});

/** POST /api/hooks/{token}: the token is the credential (seed 002), 10 messages per 60 s. */
export const hooksRouter = router({
  post: publicProcedure
    .meta({
      openapi: {
        method: 'POST',
        path: '/api/hooks/{token}',
        tags,
        protect: false,
        summary: 'Post a message into the channel of an incoming webhook',
      },
    })
    .input(ZIncomingInput)
    .output(ZIncomingPosted)
    .mutation(({ ctx, input: { token, ...message } }) =>
      postIncomingMessage(webhookDeps(ctx), token, message),
    ),
});
