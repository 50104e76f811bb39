import { eq } from 'drizzle-orm';
import { sha256Hex } from '../../core/crypto';
import { AppError } from '../../core/errors';
import type { Db } from '../../db/client';
import { bots } from '../../db/schema';
import { effectiveState, STATE } from '../users/policy';
import type { AuthState, AuthVia, UserActor } from './actor';
import { API_KEY_PREFIX, findApiKey, touchApiKey } from './api-keys';
import {
  endUserSessions,
  findSessionByJwt,
  findSessionByToken,
  looksLikeJwt,
  type SessionUser,
} from './sessions';

export type Credentials = {
  /** `Authorization: Bearer <session token | JWT | portal_ key>` or `?token=`. */
  bearer?: string | undefined;
  /** The session cookie. */
  cookie?: string | undefined;
  /** `X-API-Key` (bots). */
  botKey?: string | undefined;
  ip: string;
};

export const BOT_KEY_PREFIX = 'pbot_';

export function toUserActor(
  user: SessionUser,
  via: AuthVia,
  extra: { sessionId?: string | null; keyScopes?: string | null } = {},
): UserActor {
  const state = effectiveState(user.state, user.stateExpiresAt);
  return {
    kind: 'user',
    userId: user.id,
    username: user.username,
    level: user.permissionLevel,
    state,
    stateReason: state === STATE.ACTIVE ? null : user.stateReason,
    stateExpiresAt: state === STATE.TIMEOUT ? user.stateExpiresAt : null,
    scopes: user.scopes,
    via,
    sessionId: extra.sessionId ?? null,
    keyScopes: extra.keyScopes ?? null,
  };
}

/** Banned → 403 on every authenticated request (seed 001 structured error); sessions are ended. */
export async function refuseIfBanned(db: Db, user: SessionUser) {
  if (user.state !== STATE.BANNED) return;
  await endUserSessions(db, user.id);
  throw new AppError(
    'FORBIDDEN',
    'Your account has been banned',
    user.stateReason ? { reason: user.stateReason } : {},
  );
}

/**
 * Turns the presented credential into an actor with one indexed query. An explicit Bearer or
 * X-API-Key that does not validate is a 401; a stale cookie just means anonymous.
 */
export async function resolveCredentials(db: Db, secretKey: Buffer, creds: Credentials): Promise<AuthState> {
  const anonymous: AuthState = { actor: null, rateSubject: `ip:${creds.ip}` };

  if (creds.botKey) {
    const [bot] = await db
      .select()
      .from(bots)
      .where(eq(bots.apiKeyHash, sha256Hex(creds.botKey)))
      .limit(1);
    if (!bot) throw new AppError('UNAUTHORIZED', 'Invalid API key');
    return {
      actor: { kind: 'bot', botId: bot.id, name: bot.name, rateLimitPerHour: bot.rateLimitPerHour, level: 0 },
      rateSubject: `key:${sha256Hex(creds.botKey).slice(0, 32)}`,
    };
  }

  const bearer = creds.bearer;
  if (bearer) {
    if (bearer.startsWith(API_KEY_PREFIX)) {
      const found = await findApiKey(db, bearer);
      if (!found) throw new AppError('UNAUTHORIZED', 'Invalid or expired API key');
      await refuseIfBanned(db, found.user);
      touchApiKey(db, found.key);
      return {
        actor: toUserActor(found.user, 'api_key', { keyScopes: found.key.scopes }),
        rateSubject: `key:${found.key.keyHash.slice(0, 32)}`,
        userRow: found.user,
      };
    }
    // Opaque session tokens are base64url without dots, so a JWT costs no wasted lookup.
    const found = looksLikeJwt(bearer)
      ? await findSessionByJwt(db, secretKey, bearer).then((r) => r && { ...r, via: 'jwt' as const })
      : await findSessionByToken(db, bearer).then((r) => r && { ...r, via: 'session' as const });
    if (!found) throw new AppError('UNAUTHORIZED', 'Invalid or expired token');
    await refuseIfBanned(db, found.user);
    return {
      actor: toUserActor(found.user, found.via, { sessionId: found.session.id }),
      rateSubject: anonymous.rateSubject,
      userRow: found.user,
    };
  }

  if (creds.cookie) {
    const found = await findSessionByToken(db, creds.cookie);
    if (!found) return anonymous;
    await refuseIfBanned(db, found.user);
    return {
      actor: toUserActor(found.user, 'session', { sessionId: found.session.id }),
      rateSubject: anonymous.rateSubject,
      userRow: found.user,
    };
  }
  return anonymous;
}
