import { createSecretKey, type KeyObject, randomBytes } from 'node:crypto';
import { and, desc, eq, gt, ne } from 'drizzle-orm';
import { jwtVerify, SignJWT } from 'jose';
import { hmacHex, randomToken, sha256Hex } from '../../core/crypto';
import { AppError } from '../../core/errors';
import type { Db } from '../../db/client';
import { sessions, users } from '../../db/schema';
import { recordActivity } from '../activity/activity';
import { sessionTtlMs } from '../users/policy';

export type SessionUser = typeof users.$inferSelect;
export type SessionRow = typeof sessions.$inferSelect;

export const SESSION_COOKIE = 'portal_session';

// Derived once per secret key: deriving and importing it on every request doubled the JWT cost.
const jwtKeys = new WeakMap<Buffer, KeyObject>();
function jwtKey(secretKey: Buffer): KeyObject {
  let key = jwtKeys.get(secretKey);
  if (!key) {
    key = createSecretKey(Buffer.from(hmacHex(secretKey, 'jwt-signing-key', 'v1'), 'hex'));
    jwtKeys.set(secretKey, key);
  }
  return key;
}

export type NewSession = { token: string; session: SessionRow; jwt: string };

/** Starts a session with the fixed TTL of the user's level (no sliding extension). */
export async function createSession(
  db: Db,
  secretKey: Buffer,
  opts: {
    user: Pick<SessionUser, 'id' | 'permissionLevel'>;
    method: string;
    ip?: string;
    userAgent?: string;
  },
): Promise<NewSession> {
  const token = randomToken(32);
  const [session] = await db
    .insert(sessions)
    .values({
      id: randomBytes(15).toString('base64url'),
      userId: opts.user.id,
      tokenHash: sha256Hex(token),
      tokenSuffix: token.slice(-6),
      method: opts.method,
      ip: opts.ip ?? null,
      userAgent: opts.userAgent?.slice(0, 300) ?? null,
      expiresAt: new Date(Date.now() + sessionTtlMs(opts.user.permissionLevel)),
    })
    .returning();
  await recordActivity(db, {
    userId: opts.user.id,
    action: 'signed_in',
    details: `Signed in (${opts.method})`,
  });
  const jwt = await new SignJWT({})
    .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
    .setSubject(String(opts.user.id))
    .setJti(session!.id)
    .setIssuedAt()
    .setExpirationTime(Math.floor(session!.expiresAt.getTime() / 1000))
    .sign(jwtKey(secretKey));
  return { token, session: session!, jwt };
}

/** One indexed query: the session by token hash, joined with its user. */
export async function findSessionByToken(db: Db, token: string) {
  const [row] = await db
    .select({ session: sessions, user: users })
    .from(sessions)
    .innerJoin(users, eq(users.id, sessions.userId))
    .where(and(eq(sessions.tokenHash, sha256Hex(token)), gt(sessions.expiresAt, new Date())))
    .limit(1);
  return row ?? null;
}

const JWT_SHAPE = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/;
export const looksLikeJwt = (token: string) => JWT_SHAPE.test(token);

/** A JWT from /api/token: signature and expiry, then its `jti` session (revocation is immediate). */
export async function findSessionByJwt(db: Db, secretKey: Buffer, jwt: string) {
  let jti: string | undefined;
  let exp: number | undefined;
  try {
    const { payload } = await jwtVerify(jwt, jwtKey(secretKey), { algorithms: ['HS256'] });
    jti = payload.jti;
    exp = payload.exp;
  } catch {
    return null;
  }
  if (!jti) return null;
  const [row] = await db
    .select({ session: sessions, user: users })
    .from(sessions)
    .innerJoin(users, eq(users.id, sessions.userId))
    .where(and(eq(sessions.id, jti), gt(sessions.expiresAt, new Date())))
    .limit(1);
  // The token's own expiry, for callers that keep the answer (credential-cache.ts).
  return row ? { ...row, tokenExpiresAt: exp === undefined ? null : new Date(exp * 1000) } : null;
}

export async function listSessions(db: Db, userId: number) {
  return db
    .select()
    .from(sessions)
    .where(and(eq(sessions.userId, userId), gt(sessions.expiresAt, new Date())))
    .orderBy(desc(sessions.createdAt));
}

/** The ended session's owner, or undefined when there was no such session. */
export async function deleteSession(db: Db, sessionId: string) {
  const [ended] = await db
    .delete(sessions)
    .where(eq(sessions.id, sessionId))
    .returning({ userId: sessions.userId });
  return ended;
}

/** Ends a user's sessions, optionally keeping the one making the request. */
export async function endUserSessions(db: Db, userId: number, exceptSessionId?: string | null) {
  const where = exceptSessionId
    ? and(eq(sessions.userId, userId), ne(sessions.id, exceptSessionId))
    : eq(sessions.userId, userId);
  const ended = await db.delete(sessions).where(where).returning({ id: sessions.id });
  return ended.length;
}

/** POST /users/me/sessions/{token_suffix}/destroy */
export async function destroySessionBySuffix(db: Db, userId: number, suffix: string) {
  const ended = await db
    .delete(sessions)
    .where(and(eq(sessions.userId, userId), eq(sessions.tokenSuffix, suffix)))
    .returning({ id: sessions.id });
  if (ended.length === 0) throw new AppError('NOT_FOUND', 'Session not found');
  return ended.length;
}

/** POST /api/tokens/revoke */
export async function revokeSessionById(db: Db, userId: number, sessionId: string) {
  const ended = await db
    .delete(sessions)
    .where(and(eq(sessions.userId, userId), eq(sessions.id, sessionId)))
    .returning({ id: sessions.id });
  if (ended.length === 0) throw new AppError('NOT_FOUND', 'Token not found');
}
