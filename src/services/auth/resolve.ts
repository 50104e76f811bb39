import { eq } from 'drizzle-orm';
import { sha256Hex } from '../../core/crypto';
import { AppError } from '../../core/errors';
import type { Db } from '../../db/client';
import { bots } from '../../db/schema';
import { effectiveState, STATE } from '../users/policy';
import type { AuthState, AuthVia, UserActor } from './actor';
import { API_KEY_PREFIX, findApiKey, touchApiKey } from './api-keys';
import type { CredentialCache, Subject } from './credential-cache';
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

/** A cached lookup is used only while what it found is still unexpired. */
const live = (at: Date | null | undefined) => at == null || at.getTime() > Date.now();

/**
 * `lookup` through the cache under `key`: a hit must still pass `fresh`; a miss is stored (found
 * or not found alike would be wrong: only found rows are stored, so a new credential works at once).
 */
async function cached<T>(
  cache: CredentialCache | undefined,
  key: string,
  subjectOf: (found: T) => Subject,
  fresh: (found: T) => boolean,
  lookup: () => Promise<T | null>,
): Promise<T | null> {
  if (!cache?.enabled) return lookup();
  const hit = cache.get<T>(key);
  if (hit !== undefined && fresh(hit)) return hit;
  const ticket = cache.ticket();
  const found = await lookup();
  if (found) cache.set(key, subjectOf(found), found, ticket);
  return found;
}

const userSubject = (found: { user: SessionUser }): Subject => `u:${found.user.id}`;

/**
 * Turns the presented credential into an actor with one indexed query, or none when `cache`
 * holds it. An explicit Bearer or X-API-Key that does not validate is a 401; a stale cookie just
 * means anonymous.
 */
export async function resolveCredentials(
  db: Db,
  secretKey: Buffer,
  creds: Credentials,
  cache?: CredentialCache,
): Promise<AuthState> {
  const anonymous: AuthState = { actor: null, rateSubject: `ip:${creds.ip}` };

  if (creds.botKey) {
    const keyHash = sha256Hex(creds.botKey);
    const bot = await cached(
      cache,
      `b:${keyHash}`,
      (b: typeof bots.$inferSelect) => `b:${b.id}`,
      () => true,
      async () => (await db.select().from(bots).where(eq(bots.apiKeyHash, keyHash)).limit(1))[0] ?? null,
    );
    if (!bot) throw new AppError('UNAUTHORIZED', 'Invalid API key');
    return {
      actor: { kind: 'bot', botId: bot.id, name: bot.name, rateLimitPerHour: bot.rateLimitPerHour, level: 0 },
      rateSubject: `key:${keyHash.slice(0, 32)}`,
    };
  }

  const bearer = creds.bearer;
  if (bearer) {
    if (bearer.startsWith(API_KEY_PREFIX)) {
      const found = await cached(
        cache,
        `k:${sha256Hex(bearer)}`,
        userSubject,
        (f) => live(f.key.expiresAt),
        () => findApiKey(db, bearer),
      );
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
      ? await cached(
          cache,
          `j:${sha256Hex(bearer)}`,
          userSubject,
          (f) => live(f.session.expiresAt) && live(f.tokenExpiresAt),
          () => findSessionByJwt(db, secretKey, bearer),
        ).then((r) => r && { ...r, via: 'jwt' as const })
      : await findSession(db, bearer, cache).then((r) => r && { ...r, via: 'session' as const });
    if (!found) throw new AppError('UNAUTHORIZED', 'Invalid or expired token');
    await refuseIfBanned(db, found.user);
    return {
      actor: toUserActor(found.user, found.via, { sessionId: found.session.id }),
      rateSubject: anonymous.rateSubject,
      userRow: found.user,
    };
  }

  if (creds.cookie) {
    const found = await findSession(db, creds.cookie, cache);
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

function findSession(db: Db, token: string, cache: CredentialCache | undefined) {
  return cached(
    cache,
    `s:${sha256Hex(token)}`,
    userSubject,
    (f) => live(f.session.expiresAt),
    () => findSessionByToken(db, token),
  );
}
