import type { RequestHandler } from 'express';
import { AppError } from '../../core/errors';
import type { Logger } from '../../core/log';
import { type RateLimiter, rateLimitHeaders } from '../../core/rate-limit';
import type { AuthState } from '../../routers/context';
import type { RouteTable } from '../../routers/route-table';
import { sendError } from './error-body';

/**
 * The tiers of API.md §0 for every HTTP request, counted per API-key hash once a key
 * authenticated and per client IP otherwise. Runs after authentication for that reason.
 */
export function rateLimit(limiter: RateLimiter, routes: RouteTable, log: Logger): RequestHandler {
  return async (req, res, next) => {
    const { tier } = routes.classify(req.method, req.path);
    const auth = res.locals.auth as AuthState;
    let result: Awaited<ReturnType<RateLimiter['check']>>;
    try {
      result = await limiter.check(tier, auth.rateSubject);
    } catch (err) {
      // The counter store (Redis) is down: serve rather than fail every request; readiness says why.
      log.warn({ err, correlation_id: res.locals.correlationId }, 'rate limiter unavailable');
      return next();
    }
    res.locals.rateLimit = result;
    for (const [name, value] of Object.entries(rateLimitHeaders(result))) res.setHeader(name, value);
    if (!result.allowed) return sendError(res, new AppError('TOO_MANY_REQUESTS'));
    next();
  };
}
