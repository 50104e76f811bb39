import { z } from 'zod';
import {
  createApiKey,
  deleteApiKey,
  listApiKeys,
  revokeApiKey,
  toApiKeyView,
} from '../../services/auth/api-keys';
import { notifyApiKeyChange } from '../../services/notifications/security';
import type { Context } from '../context';
import { ZDisplayName, ZId, ZSuccess } from '../fields';
import { authedProcedure, router } from '../trpc';

const tags = ['API keys'];

const pushDeps = (ctx: Context) => ({ db: ctx.db, bus: ctx.deps.bus, log: ctx.log });

/** `*`, or router groups each optionally read-only: `users:read,chats`. */
const ZScopes = z
  .string()
  .trim()
  .max(500)
  .regex(/^(\*|[A-Za-z]+(:read)?(\s*,\s*[A-Za-z]+(:read)?)*)$/)
  .transform((s) =>
    s
      .split(',')
      .map((x) => x.trim())
      .join(','),
  );

const ZKeyView = z.object({
  id: z.number(),
  name: z.string(),
  key_prefix: z.string(),
  scopes: z.string(),
  expires_at: z.string().nullable(),
  revoked: z.boolean(),
  revoked_at: z.string().nullable(),
  last_used_at: z.string().nullable(),
  created_at: z.string(),
});

export const keysRouter = router({
  create: authedProcedure
    .meta({ openapi: { method: 'POST', path: '/api/keys', tags, summary: 'Create an API key (shown once)' } })
    .input(
      z.object({
        name: ZDisplayName,
        scopes: ZScopes.default('*'),
        expires_in_days: z.number().int().min(1).max(3650).nullable().default(null),
      }),
    )
    .output(
      z.object({
        id: z.number(),
        name: z.string(),
        api_key: z.string(),
        key_prefix: z.string(),
        scopes: z.string(),
        expires_at: z.string().nullable(),
      }),
    )
    .mutation(async ({ ctx, input }) => {
      const { key, row } = await createApiKey(ctx.db, {
        userId: ctx.actor.userId,
        name: input.name,
        scopes: input.scopes,
        expiresInDays: input.expires_in_days,
      });
      await notifyApiKeyChange(pushDeps(ctx), ctx.actor.userId, row, 'created');
      return {
        id: row.id,
        name: row.name,
        api_key: key,
        key_prefix: row.keyPrefix,
        scopes: row.scopes,
        expires_at: row.expiresAt?.toISOString() ?? null,
      };
    }),

  list: authedProcedure
    .meta({ openapi: { method: 'GET', path: '/api/keys', tags, summary: 'List API keys (prefix only)' } })
    .input(z.void())
    .output(z.object({ keys: z.array(ZKeyView) }))
    .query(async ({ ctx }) => ({ keys: (await listApiKeys(ctx.db, ctx.actor.userId)).map(toApiKeyView) })),

  revoke: authedProcedure
    .meta({
      openapi: {
        method: 'POST',
        path: '/api/keys/{id}/revoke',
        tags,
        summary: 'Revoke (stays listed, stops working)',
      },
    })
    .input(z.object({ id: ZId }))
    .output(ZKeyView)
    .mutation(async ({ ctx, input }) => {
      const row = await revokeApiKey(ctx.db, ctx.actor.userId, input.id);
      await notifyApiKeyChange(pushDeps(ctx), ctx.actor.userId, row, 'revoked');
      return toApiKeyView(row);
    }),

  delete: authedProcedure
    .meta({ openapi: { method: 'DELETE', path: '/api/keys/{id}', tags, summary: 'Delete an API key' } })
    .input(z.object({ id: ZId }))
    .output(ZSuccess)
    .mutation(async ({ ctx, input }) => {
      const row = await deleteApiKey(ctx.db, ctx.actor.userId, input.id);
      await notifyApiKeyChange(pushDeps(ctx), ctx.actor.userId, row, 'deleted');
      return { success: true as const };
    }),
});
