import { initTRPC } from '@trpc/server';
import type { OpenApiMeta } from 'trpc-to-openapi';
import { AppError, describeError } from '../core/errors';
import { type RateLimitResult, type RateTier, rateLimitHeaders, tighter } from '../core/rate-limit';
import { keyAllows } from '../services/auth/api-keys';
import { LEVEL, STATE } from '../services/users/policy';
import type { Context } from './context';

export type Meta = OpenApiMeta & {
  /** Rate-limit tier of API.md §0; base procedures set a default, a procedure may override it. */
  rateTier?: RateTier;
  /** Logout and managing one's own sessions stay allowed during a timeout (seed 003). */
  allowWhileRestricted?: boolean;
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
      if (typeof body.retry_after === 'number') ctx?.setHeader('Retry-After', String(body.retry_after));
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

/**
 * Rules for every procedure whatever its base: an API key reaches only the router groups in its
 * scopes (`group` or `group:read` for queries), and a timed-out user may not change anything.
 */
const restrictions = t.middleware(({ ctx, meta, path, type, next }) => {
  const actor = ctx.auth.actor;
  if (actor?.kind === 'user') {
    const isMutation = type === 'mutation';
    const group = path.split('.')[0] ?? '';
    if (actor.keyScopes !== null && !keyAllows(actor.keyScopes, group, isMutation))
      throw new AppError('FORBIDDEN');
    if (actor.state === STATE.TIMEOUT && isMutation && !meta?.allowWhileRestricted) {
      throw new AppError('FORBIDDEN', 'Your account is temporarily restricted', {
        ...(actor.stateReason && { reason: actor.stateReason }),
        ...(actor.stateExpiresAt && { expires_at: actor.stateExpiresAt.toISOString() }),
      });
    }
  }
  return next();
});

const base = t.procedure.use(restrictions);

export const publicProcedure = base.meta({ rateTier: 'PUBLIC' });

/** A signed-in user (session cookie, Bearer token, JWT or API key). */
export const authedProcedure = base.meta({ rateTier: 'AUTH' }).use(({ ctx, next }) => {
  const actor = ctx.auth.actor;
  if (actor?.kind !== 'user') throw new AppError('UNAUTHORIZED');
  return next({ ctx: { ...ctx, actor } });
});

const HOUR_MS = 3_600_000;

/**
 * A bot authenticated by X-API-Key, within its own `rate_limit_per_hour` on top of the BOT tier
 * (API.md §0); X-RateLimit-* then report whichever of the two is tighter.
 */
export const botProcedure = base.meta({ rateTier: 'BOT' }).use(async ({ ctx, next }) => {
  const actor = ctx.auth.actor;
  if (actor?.kind !== 'bot') throw new AppError('UNAUTHORIZED');
  let hourly: RateLimitResult;
  try {
    hourly = await ctx.deps.rateLimiter.checkCustom(
      'bot-hour',
      `bot:${actor.botId}`,
      actor.rateLimitPerHour,
      HOUR_MS,
    );
  } catch (err) {
    // As for the tiers: an unreachable counter store (Redis) serves rather than fails every call.
    ctx.log.warn({ err }, 'rate limiter unavailable');
    return next({ ctx: { ...ctx, actor } });
  }
  const shown = ctx.rateLimit ? tighter(ctx.rateLimit, hourly) : hourly;
  for (const [name, value] of Object.entries(rateLimitHeaders(shown))) ctx.setHeader(name, value);
  if (!hourly.allowed) {
    throw new AppError('TOO_MANY_REQUESTS', undefined, { retry_after: hourly.retryAfterSeconds });
  }
  return next({ ctx: { ...ctx, actor } });
});

/** Admin (level 2) or Owner (level 3); the CLI calls in as the built-in system owner. */
export const adminProcedure = base.meta({ rateTier: 'ADMIN' }).use(({ ctx, next }) => {
  const actor = ctx.auth.actor;
  if (!actor) throw new AppError('UNAUTHORIZED');
  if (actor.kind === 'bot' || actor.level < LEVEL.ADMIN)
    throw new AppError('FORBIDDEN', 'Admin access required');
  return next({ ctx: { ...ctx, actor } });
});
