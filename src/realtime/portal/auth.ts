import { parse as parseCookies } from 'cookie';
import { AppError } from '../../core/errors';
import { assertCookieUpgradeOrigin } from '../../core/same-origin';
import type { Db } from '../../db/client';
import { bearerFrom } from '../../rest/middleware/authenticate';
import type { Actor } from '../../services/auth/actor';
import { keyAllows } from '../../services/auth/api-keys';
import type { CredentialCache } from '../../services/auth/credential-cache';
import { resolveCredentials } from '../../services/auth/resolve';
import { SESSION_COOKIE } from '../../services/auth/sessions';
import type { UpgradeRequest } from '../types';

// Who a /ws/portal socket belongs to, by the same credential rules as HTTP (resolveCredentials):
// `?token=`, `Authorization: Bearer`, the session cookie, or later an `auth` message.

export type PortalUser = { userId: number; username: string; level: number };

/** `user` is null until first-message authentication succeeds. */
export type PortalAuth = { user: PortalUser | null };

type AuthDeps = { db: Db; secretKey: Buffer; credentialCache?: CredentialCache };

/**
 * API keys reach a socket only when their scopes cover the endpoint's group: `notifications` for
 * /ws/portal, `chat` for /ws/chat (the same group names as the routers).
 */
function portalUserOf(actor: Actor | null, group: string): PortalUser | null {
  if (!actor) return null;
  if (actor.kind !== 'user') throw new AppError('UNAUTHORIZED');
  if (actor.keyScopes !== null && !keyAllows(actor.keyScopes, group, false)) throw new AppError('FORBIDDEN');
  return { userId: actor.userId, username: actor.username, level: actor.level };
}

/** The route's `authenticate`: throws to refuse the upgrade (401 bad token, 403 banned). */
export async function authenticateUpgrade(
  deps: AuthDeps,
  req: UpgradeRequest,
  group = 'notifications',
): Promise<PortalAuth> {
  const bearer = req.query.get('token') || bearerFrom(req.headers.authorization);
  const cookie = bearer ? undefined : parseCookies(req.headers.cookie ?? '')[SESSION_COOKIE];
  if (!bearer && !cookie) return { user: null };
  const state = await resolveCredentials(
    deps.db,
    deps.secretKey,
    { bearer, cookie, ip: req.ip },
    deps.credentialCache,
  );
  const user = portalUserOf(state.actor, group);
  if (user && !bearer) assertCookieUpgradeOrigin(req.headers);
  return { user };
}

/** `{type:"auth", token}`: the same rules as a Bearer token; throws an AppError to refuse. */
export async function authenticateToken(
  deps: AuthDeps,
  token: string,
  ip: string,
  group = 'notifications',
): Promise<PortalUser> {
  const state = await resolveCredentials(
    deps.db,
    deps.secretKey,
    { bearer: token, ip },
    deps.credentialCache,
  );
  const user = portalUserOf(state.actor, group);
  if (!user) throw new AppError('UNAUTHORIZED');
  return user;
}
