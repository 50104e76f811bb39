import type { Request, Response } from 'express';
import { AppError } from '../../core/errors';
import type { AppDeps } from '../../deps';
import type { AuthState, UserActor } from '../../services/auth/actor';
import { keyAllows } from '../../services/auth/api-keys';
import type { StreamDeps } from '../../services/streams/types';
import { STATE } from '../../services/users/policy';

// The rules of the streams router for the non-RPC stream handlers: API keys need the `streams`
// scope (`streams:read` to watch), a timed-out user may not change anything.

/** The signed-in user, or null for anonymous viewers (public streams play for anyone). */
export function optionalStreamUser(res: Response): UserActor | null {
  const actor = (res.locals.auth as AuthState).actor;
  if (actor?.kind !== 'user') return null;
  if (actor.keyScopes !== null && !keyAllows(actor.keyScopes, 'streams', false))
    throw new AppError('FORBIDDEN');
  return actor;
}

/** A signed-in user allowed to change their streams. */
export function streamOwnerActor(res: Response): UserActor {
  const actor = (res.locals.auth as AuthState).actor;
  if (actor?.kind !== 'user') throw new AppError('UNAUTHORIZED');
  if (actor.keyScopes !== null && !keyAllows(actor.keyScopes, 'streams', true))
    throw new AppError('FORBIDDEN');
  if (actor.state === STATE.TIMEOUT) {
    throw new AppError('FORBIDDEN', 'Your account is temporarily restricted', {
      ...(actor.stateReason && { reason: actor.stateReason }),
      ...(actor.stateExpiresAt && { expires_at: actor.stateExpiresAt.toISOString() }),
    });
  }
  return actor;
}

/** The stream services' deps for one request (its correlated logger). */
export const streamDepsOf = (deps: AppDeps, res: Response): StreamDeps => ({
  ...deps,
  db: deps.database.db,
  log: (res.locals.log as StreamDeps['log'] | undefined) ?? deps.log,
});

/** A path parameter as express decoded it, or '' (never undefined). */
export const param = (req: Request, name: string) => String(req.params[name] ?? '');
