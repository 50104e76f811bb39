import { parse as parseCookies } from 'cookie';
import type { RequestHandler } from 'express';
import { normalizeIp } from '../../core/client-ip';
import { AppError } from '../../core/errors';
import { isSameOrigin } from '../../core/same-origin';
import type { AppDeps } from '../../deps';
import type { AuthState } from '../../services/auth/actor';
import { resolveCredentials } from '../../services/auth/resolve';
import { SESSION_COOKIE } from '../../services/auth/sessions';
import { sendError } from './error-body';

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

export function bearerFrom(authorization: string | undefined): string | undefined {
  const match = authorization?.match(/^Bearer\s+(\S+)\s*$/i);
  return match?.[1];
}

/**
 * Resolves the caller once per request, before rate limits (which count per key) and before any
 * procedure runs. Credentials: Bearer (session token, JWT or portal_ key), `?token=`, the session
 * cookie, or X-API-Key for bots.
 */
export function authenticate(deps: AppDeps): RequestHandler {
  return async (req, res, next) => {
    const ip = normalizeIp(req.ip ?? req.socket.remoteAddress ?? 'unknown');
    const queryToken = typeof req.query.token === 'string' ? req.query.token : undefined;
    const bearer = bearerFrom(req.get('authorization')) ?? queryToken;
    const cookie = req.headers.cookie ? parseCookies(req.headers.cookie)[SESSION_COOKIE] : undefined;
    try {
      const auth: AuthState = await resolveCredentials(
        deps.database.db,
        deps.secretKey,
        {
          bearer,
          cookie: bearer ? undefined : cookie,
          botKey: req.get('x-api-key') || undefined,
          ip,
        },
        deps.credentialCache,
      );
      // CSRF: SameSite=Lax, plus a state-changing cookie request must come from our own origin.
      if (
        auth.actor &&
        !bearer &&
        !req.get('x-api-key') &&
        !SAFE_METHODS.has(req.method) &&
        !isSameOrigin(req.get('origin') ?? req.get('referer'), req.get('host'))
      ) {
        throw new AppError('FORBIDDEN', 'Cross-site request refused');
      }
      res.locals.auth = auth;
      next();
    } catch (err) {
      // Answered after the rate limit has counted it, so guessing credentials is throttled too.
      res.locals.auth = { actor: null, rateSubject: `ip:${ip}` } satisfies AuthState;
      res.locals.authError = err;
      next();
    }
  };
}

/** Sends the credential failure remembered by `authenticate`, once rate limits have run. */
export const rejectFailedAuth: RequestHandler = (_req, res, next) => {
  if (res.locals.authError) return sendError(res, res.locals.authError);
  next();
};
