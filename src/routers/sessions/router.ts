import { z } from 'zod';
import {
  destroySessionBySuffix,
  listSessions,
  revokeSessionById,
  type SessionRow,
} from '../../services/auth/sessions';
import { ZSuccess } from '../fields';
import { authedProcedure, router } from '../trpc';

// Managing one's own sessions stays allowed during a timeout (seed 003).
const own = authedProcedure.meta({ allowWhileRestricted: true });

const ZSession = z.object({
  token_suffix: z.string(),
  method: z.string(),
  ip: z.string().nullable(),
  user_agent: z.string().nullable(),
  created_at: z.string(),
  expires_at: z.string(),
  current: z.boolean(),
});

const ZToken = z.object({
  token_id: z.string(),
  method: z.string(),
  ip: z.string().nullable(),
  created_at: z.string(),
  expires_at: z.string(),
  current: z.boolean(),
});

const common = (s: SessionRow, currentId: string | null) => ({
  method: s.method,
  ip: s.ip,
  created_at: s.createdAt.toISOString(),
  expires_at: s.expiresAt.toISOString(),
  current: s.id === currentId,
});

export const sessionsRouter = router({
  list: own
    .meta({
      openapi: { method: 'GET', path: '/users/me/sessions', tags: ['Users'], summary: 'List own sessions' },
    })
    .input(z.void())
    .output(z.object({ sessions: z.array(ZSession) }))
    .query(async ({ ctx }) => ({
      sessions: (await listSessions(ctx.db, ctx.actor.userId)).map((s) => ({
        token_suffix: s.tokenSuffix,
        user_agent: s.userAgent,
        ...common(s, ctx.actor.sessionId),
      })),
    })),

  destroy: own
    .meta({
      openapi: {
        method: 'POST',
        path: '/users/me/sessions/{token_suffix}/destroy',
        tags: ['Users'],
        summary: 'Revoke a session by its 6-character token suffix',
      },
    })
    .input(z.object({ token_suffix: z.string().length(6) }))
    .output(ZSuccess)
    .mutation(async ({ ctx, input }) => {
      await destroySessionBySuffix(ctx.db, ctx.actor.userId, input.token_suffix);
      return { success: true as const };
    }),

  tokens: own
    .meta({
      openapi: {
        method: 'GET',
        path: '/api/tokens',
        tags: ['Authentication'],
        summary: 'Active JWT sessions',
      },
    })
    .input(z.void())
    .output(z.object({ tokens: z.array(ZToken) }))
    .query(async ({ ctx }) => ({
      tokens: (await listSessions(ctx.db, ctx.actor.userId)).map((s) => ({
        token_id: s.id,
        ...common(s, ctx.actor.sessionId),
      })),
    })),

  revokeToken: own
    .meta({
      openapi: {
        method: 'POST',
        path: '/api/tokens/revoke',
        tags: ['Authentication'],
        summary: 'Revoke a session',
      },
    })
    .input(z.object({ token_id: z.string().min(1).max(64) }))
    .output(ZSuccess)
    .mutation(async ({ ctx, input }) => {
      await revokeSessionById(ctx.db, ctx.actor.userId, input.token_id);
      return { success: true as const };
    }),
});
