import { setTimeout as sleep } from 'node:timers/promises';
import { z } from 'zod';
import { AppError } from '../../src/core/errors';
import { appRouter } from '../../src/routers/_app';
import {
  adminProcedure,
  authedProcedure,
  mergeRouters,
  publicProcedure,
  router,
} from '../../src/routers/trpc';

// Procedures that exist only in tests, to drive the REST/tRPC machinery through every error path
// before the feature routers that will produce those errors exist.
const ok = z.object({ success: z.literal(true) });
const tags = ['Fixtures'];

const fixtures = router({
  echo: publicProcedure
    .meta({ openapi: { method: 'POST', path: '/fixtures/echo', tags, protect: false } })
    .input(
      z.object({
        username: z
          .string()
          .min(3)
          .max(32)
          .regex(/^[A-Za-z0-9_.-]+$/),
        code: z.string().min(1),
        count: z.number().int().min(0).max(10).optional(),
      }),
    )
    .output(z.object({ username: z.string(), count: z.number() }))
    .mutation(({ input }) => ({ username: input.username, count: input.count ?? 0 })),
  conflict: publicProcedure
    .meta({ openapi: { method: 'GET', path: '/fixtures/conflict', tags, protect: false } })
    .input(z.void())
    .output(ok)
    .query(() => {
      throw new AppError('CONFLICT', 'Username is already taken');
    }),
  timeout: publicProcedure
    .meta({ openapi: { method: 'GET', path: '/fixtures/timeout', tags, protect: false } })
    .input(z.void())
    .output(ok)
    .query(() => {
      throw new AppError('FORBIDDEN', 'Your account is temporarily restricted', {
        reason: 'Spamming in chat',
        expires_at: '2026-03-12T20:15:29Z',
      });
    }),
  missing: publicProcedure
    .meta({ openapi: { method: 'GET', path: '/fixtures/things/{id}', tags, protect: false } })
    .input(z.object({ id: z.coerce.number().int() }))
    .output(ok)
    .query(() => {
      throw new AppError('NOT_FOUND', 'User not found');
    }),
  authed: authedProcedure
    .meta({ openapi: { method: 'GET', path: '/fixtures/authed', tags } })
    .input(z.void())
    .output(ok)
    .query(() => ({ success: true as const })),
  admin: adminProcedure
    .meta({ openapi: { method: 'GET', path: '/fixtures/admin', tags } })
    .input(z.void())
    .output(ok)
    .query(() => ({ success: true as const })),
  crash: publicProcedure
    .meta({ openapi: { method: 'GET', path: '/fixtures/crash', tags, protect: false } })
    .input(z.void())
    .output(ok)
    .query(() => {
      throw new Error('database password is hunter2 at /srv/secret');
    }),
  slow: publicProcedure
    .meta({ openapi: { method: 'POST', path: '/fixtures/slow', tags, protect: false } })
    .input(z.object({ ms: z.number().int().min(0).max(30_000) }))
    .output(z.object({ waited: z.number() }))
    .mutation(async ({ input }) => {
      await sleep(input.ms);
      return { waited: input.ms };
    }),
});

export const fixtureRouter = mergeRouters(appRouter, router({ fixtures }));
export type FixtureRouter = typeof fixtureRouter;
