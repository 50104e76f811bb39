import { z } from 'zod';
import { markLoginCodeDelivered, pickupLoginCodes } from '../../services/auth/otp';
import { recordCommandBatch } from '../../services/bots/batch';
import { getLinkedUser, updateLinkedUser } from '../../services/bots/linked-users';
import { getOwnBot, updateOwnBot } from '../../services/bots/self';
import { isEmoji, isHttpUrl, linkBotUser } from '../../services/bots/user-links';
import { publicProfile } from '../../services/users/views';
import { ZBotFull } from '../bots/schemas';
import { ZIsoDate, ZSuccess, ZUsername } from '../fields';
import { botProcedure, router } from '../trpc';
import { ZPublicProfile } from '../users/schemas';
import {
  ZBatchInput,
  ZBatchResult,
  ZLinkedUserInput,
  ZLinkedUserResult,
  ZUpdateLinkedUserInput,
  ZUpdateOwnBotInput,
} from './schemas';

// The bot API of API.md §2 (X-API-Key, tier BOT plus the bot's own hourly limit): its own
// profile and stats, batch command reports, login-code delivery and linked users.

const tags = ['Bot API'];

const ZLoginCode = z.object({
  request_id: z.string(),
  user_id: z.number().int(),
  platform_user_id: z.string(),
  username: z.string(),
  code: z.string(),
  expires_at: ZIsoDate,
});

export const botRouter = router({
  me: botProcedure
    .meta({ openapi: { method: 'GET', path: '/bot/me', tags, summary: 'Own bot profile (full view)' } })
    .input(z.void())
    .output(ZBotFull)
    .query(({ ctx }) => getOwnBot(ctx.db, { botId: ctx.actor.botId })),

  updateMe: botProcedure
    .meta({
      openapi: {
        method: 'POST',
        path: '/bot/me/update',
        tags,
        summary: 'Update own info (name, avatar, description) and/or stats (users, latency)',
      },
    })
    .input(ZUpdateOwnBotInput)
    .output(ZBotFull)
    .mutation(({ ctx, input }) => updateOwnBot(ctx.db, { botId: ctx.actor.botId, ...input })),

  batch: botProcedure
    .meta({
      openapi: {
        method: 'POST',
        path: '/bot/batch',
        tags,
        summary: 'Report up to 1000 command executions',
        description:
          'Each item is validated on its own; the valid ones are stored and every item gets a result.',
      },
    })
    .input(ZBatchInput)
    .output(ZBatchResult)
    .mutation(({ ctx, input }) => recordCommandBatch(ctx.db, { botId: ctx.actor.botId, items: input.items })),

  loginCodes: botProcedure
    .meta({
      openapi: {
        method: 'GET',
        path: '/bot/login-codes',
        tags,
        summary: 'Pending login codes of users linked to this bot',
      },
    })
    .input(z.void())
    .output(z.object({ codes: z.array(ZLoginCode) }))
    .query(({ ctx }) => pickupLoginCodes({ db: ctx.db, box: ctx.deps.secretBox, botId: ctx.actor.botId })),

  markDelivered: botProcedure
    .meta({
      openapi: {
        method: 'POST',
        path: '/bot/login-codes/{request_id}/delivered',
        tags,
        summary: 'Acknowledge that a login code reached its user',
      },
    })
    .input(z.object({ request_id: z.string().trim().min(1).max(64) }))
    .output(ZSuccess)
    .mutation(({ ctx, input }) =>
      markLoginCodeDelivered({
        db: ctx.db,
        botId: ctx.actor.botId,
        botName: ctx.actor.name,
        requestId: input.request_id,
      }),
    ),

  linkUser: botProcedure
    .meta({
      openapi: {
        method: 'POST',
        path: '/bot/users',
        tags,
        summary: "Create (or return) the Portal user linked to an identity on the bot's platform",
      },
    })
    .input(
      z.object({
        platform_user_id: z.string().trim().min(1).max(128),
        username: ZUsername,
        avatar: z
          .string()
          .trim()
          .max(500)
          .refine((v) => isHttpUrl(v) || isEmoji(v), 'avatar must be an http(s) URL or an emoji')
          .optional(),
      }),
    )
    .output(z.object({ user: ZPublicProfile, created: z.boolean() }))
    .mutation(async ({ ctx, input }) => {
      const { user, created } = await linkBotUser({
        db: ctx.db,
        secretBox: ctx.deps.secretBox,
        botId: ctx.actor.botId,
        platformUserId: input.platform_user_id,
        username: input.username,
        avatar: input.avatar,
      });
      return { user: publicProfile(user), created };
    }),

  linkedUser: botProcedure
    .meta({
      openapi: {
        method: 'GET',
        path: '/bot/users/{user_id}',
        tags,
        summary: 'A user linked to this bot (404 for any other)',
      },
    })
    .input(ZLinkedUserInput)
    .output(ZLinkedUserResult)
    .query(({ ctx, input }) => getLinkedUser(ctx.db, { botId: ctx.actor.botId, userId: input.user_id })),

  updateLinkedUser: botProcedure
    .meta({
      openapi: {
        method: 'POST',
        path: '/bot/users/{user_id}/update',
        tags,
        summary: "Change a linked user's username and/or avatar emoji",
      },
    })
    .input(ZUpdateLinkedUserInput)
    .output(ZLinkedUserResult)
    .mutation(({ ctx, input }) =>
      updateLinkedUser(ctx.db, {
        bot: ctx.actor,
        userId: input.user_id,
        username: input.username,
        avatar: input.avatar,
      }),
    ),
});
