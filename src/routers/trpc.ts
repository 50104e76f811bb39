import { initTRPC } from '@trpc/server';
import type { OpenApiMeta } from 'trpc-to-openapi';
import { AppError, describeError } from '../core/errors';
import type { RateTier } from '../core/rate-limit';
import type { Context } from './context';

export type Meta = OpenApiMeta & {
  /** Rate-limit tier of API.md §0; base procedures set a default, a procedure may override it. */
  rateTier?: RateTier;
};

// The only initTRPC of the project (DESIGN.md rule 1).
const t = initTRPC
  .context<Context>()
  .meta<Meta>()
  .create({
    // Stacks and internal messages never reach a client, whatever NODE_ENV says.
    isDev: false,
    errorFormatter({ shape, error, ctx }) {
      const { body } = describeError(error);
      return {
        ...shape,
        message: body.error,
        data: { ...shape.data, ...body, correlation_id: ctx?.correlationId },
      };
    },
  });

export const router = t.router;
export const mergeRouters = t.mergeRouters;
export const createCallerFactory = t.createCallerFactory;
export const middleware = t.middleware;

export const publicProcedure = t.procedure.meta({ rateTier: 'PUBLIC' });

/** A signed-in user (session cookie, Bearer token or API key). */
export const authedProcedure = t.procedure.meta({ rateTier: 'AUTH' }).use(({ ctx, next }) => {
  const actor = ctx.auth.actor;
  if (actor?.kind !== 'user') throw new AppError('UNAUTHORIZED');
  return next({ ctx: { ...ctx, actor } });
});

/** A bot authenticated by X-API-Key. */
export const botProcedure = t.procedure.meta({ rateTier: 'BOT' }).use(({ ctx, next }) => {
  const actor = ctx.auth.actor;
  if (actor?.kind !== 'bot') throw new AppError('UNAUTHORIZED');
  return next({ ctx: { ...ctx, actor } });
});

/** Admin (level 2) or Owner (level 3); the CLI calls in as the built-in system owner. */
export const adminProcedure = t.procedure.meta({ rateTier: 'ADMIN' }).use(({ ctx, next }) => {
  const actor = ctx.auth.actor;
  if (!actor) throw new AppError('UNAUTHORIZED');
  if (actor.kind === 'bot' || actor.level < 2) throw new AppError('FORBIDDEN', 'Admin access required');
  return next({ ctx: { ...ctx, actor } });
});
