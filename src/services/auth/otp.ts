import { and, asc, eq, gt, inArray, isNotNull, lt, min, sql } from 'drizzle-orm';
import { normalizeIp } from '../../core/client-ip';
import { hmacHex, randomDigits, randomToken, type SecretBox, safeEqual } from '../../core/crypto';
import type { Env } from '../../core/env';
import { AppError } from '../../core/errors';
import type { Db } from '../../db/client';
import { botUserLinks, loginRequests, users } from '../../db/schema';
import { recordActivity } from '../activity/activity';
import type { PushDeps } from '../notifications/notify';
import { notifySecurity, securityNotice } from '../notifications/security';
import { findUserById, findUserByUsername } from '../users/accounts';
import { ownProfile } from '../users/views';
import { refuseIfBanned } from './resolve';
import { createSession, deleteSession } from './sessions';
import { verifySecondFactor } from './totp';

// OTP login of API.md §1: a 6-digit code per request, delivered out of band by a bot linked to
// the user, verified once. The code is kept as an HMAC for verification and, until a bot picks it
// up, AES-256-GCM encrypted; it is never stored in plaintext.

/** Limits of API.md §0/§1 and seed 001, with the contract's defaults. */
export type OtpConfig = {
  codeDigits: number;
  codeTtlMs: number;
  /** Pending (undelivered or delivered, unexpired) codes one client IP may hold (seed 001). */
  maxPendingPerIp: number;
  /** Wrong guesses that burn a request. */
  maxAttempts: number;
};

export const OTP_DEFAULTS: OtpConfig = {
  codeDigits: 6,
  codeTtlMs: 5 * 60_000,
  maxPendingPerIp: 5,
  maxAttempts: 5,
};

export function otpConfigFrom(
  env: Pick<Env, 'OTP_CODE_TTL_SECONDS' | 'OTP_MAX_PENDING_PER_IP' | 'OTP_MAX_ATTEMPTS'>,
): OtpConfig {
  return {
    codeDigits: OTP_DEFAULTS.codeDigits,
    codeTtlMs: env.OTP_CODE_TTL_SECONDS * 1000,
    maxPendingPerIp: env.OTP_MAX_PENDING_PER_IP,
    maxAttempts: env.OTP_MAX_ATTEMPTS,
  };
}

export const LOGIN_STATUS = {
  PENDING: 'pending',
  DELIVERED: 'delivered',
  USED: 'used',
  BURNED: 'burned',
} as const;
const LIVE = [LOGIN_STATUS.PENDING, LOGIN_STATUS.DELIVERED];

export const PENDING_CAP_MESSAGE =
  'Too many pending login requests. Please wait for existing codes to expire.';

/** Bots fetch at most this many codes per call; the rest follow once these are acknowledged. */
const PICKUP_LIMIT = 100;

// Advisory-lock namespace (two-int form, apart from the migration lock's single bigint).
const PENDING_CAP_LOCK = 7_231_101;

const codeHashOf = (secretKey: Buffer, requestId: string, code: string) =>
  hmacHex(secretKey, 'login-code', `${requestId}:${code}`);

const ipHashOf = (secretKey: Buffer, ip: string) => hmacHex(secretKey, 'ip', normalizeIp(ip));

/** POST /auth/request. Unknown and banned usernames get the same answer, after the same work. */
export async function requestLoginCode(opts: {
  db: Db;
  secretKey: Buffer;
  box: SecretBox;
  username: string;
  ip: string;
  config?: OtpConfig;
}) {
  const config = opts.config ?? OTP_DEFAULTS;
  const user = await findUserByUsername(opts.db, opts.username);
  const id = randomToken(18);
  const code = randomDigits(config.codeDigits);
  const ipHash = ipHashOf(opts.secretKey, opts.ip);
  const now = new Date();
  const expiresAt = new Date(now.getTime() + config.codeTtlMs);

  // Count and insert under a per-IP lock, so concurrent requests cannot slip past the cap.
  await opts.db.transaction(async (tx) => {
    await tx.execute(
      sql`select pg_advisory_xact_lock(${sql.raw(String(PENDING_CAP_LOCK))}, hashtext(${ipHash}::text))`,
    );
    const [pending] = await tx
      .select({ count: sql<number>`count(*)::int`, oldest: min(loginRequests.expiresAt) })
      .from(loginRequests)
      .where(
        and(
          eq(loginRequests.ipHash, ipHash),
          inArray(loginRequests.status, LIVE),
          gt(loginRequests.expiresAt, now),
        ),
      );
    if (pending && pending.count >= config.maxPendingPerIp) {
      const oldest = pending.oldest ? new Date(pending.oldest).getTime() : expiresAt.getTime();
      const retryAfter = Math.max(1, Math.ceil((oldest - now.getTime()) / 1000));
      throw new AppError('TOO_MANY_REQUESTS', PENDING_CAP_MESSAGE, { retry_after: retryAfter });
    }
    await tx.insert(loginRequests).values({
      id,
      userId: user?.id ?? null,
      codeHash: codeHashOf(opts.secretKey, id, code),
      // Unknown users get an encrypted code too: same work, same timing; no bot ever sees it.
      codeEncrypted: opts.box.encrypt(code),
      ipHash,
      expiresAt,
    });
  });
  return { request_id: id, expires_at: expiresAt.toISOString() };
}

type LoginRequestRow = typeof loginRequests.$inferSelect;

const isSpent = (
  row: Pick<LoginRequestRow, 'status' | 'expiresAt' | 'attempts'>,
  config: OtpConfig,
  now: Date,
) =>
  row.status === LOGIN_STATUS.BURNED ||
  row.expiresAt.getTime() <= now.getTime() ||
  row.attempts >= config.maxAttempts;

/** GET /auth/lookup/{request_id}: burned requests read as expired. */
export async function lookupLoginRequest(opts: { db: Db; requestId: string; config?: OtpConfig }) {
  const config = opts.config ?? OTP_DEFAULTS;
  const [row] = await opts.db
    .select()
    .from(loginRequests)
    .where(eq(loginRequests.id, opts.requestId))
    .limit(1);
  if (!row) throw new AppError('NOT_FOUND', 'Login request not found');
  let status: 'pending' | 'delivered' | 'expired' | 'used';
  if (row.status === LOGIN_STATUS.USED) status = 'used';
  else if (isSpent(row, config, new Date())) status = 'expired';
  else status = row.status === LOGIN_STATUS.DELIVERED ? 'delivered' : 'pending';
  return { status, delivered_via: row.deliveredVia };
}

/** Why a request cannot be verified (unknown ids answer like a wrong code). */
async function refusalFor(db: Db, requestId: string): Promise<AppError> {
  const [row] = await db
    .select({ status: loginRequests.status })
    .from(loginRequests)
    .where(eq(loginRequests.id, requestId))
    .limit(1);
  if (!row) return new AppError('UNAUTHORIZED', 'Invalid code');
  if (row.status === LOGIN_STATUS.USED) return new AppError('UNAUTHORIZED', 'Login request already used');
  return new AppError('UNAUTHORIZED', 'Login request expired');
}

/**
 * POST /auth/verify. Every call first takes one attempt atomically (so concurrent guesses cannot
 * exceed the limit), then compares HMACs in constant time; the last allowed wrong guess burns the
 * request. A right code that only lacked the TOTP code gives its attempt back. The consume step
 * is a conditional UPDATE, so a code signs in once even under concurrent calls.
 */
export async function verifyLoginCode(
  opts: PushDeps & {
    db: Db;
    secretKey: Buffer;
    box: SecretBox;
    requestId: string;
    code: string;
    totpCode?: string | undefined;
    ip: string;
    userAgent?: string | undefined;
    config?: OtpConfig;
  },
) {
  const { db, requestId } = opts;
  const config = opts.config ?? OTP_DEFAULTS;
  const [row] = await db
    .update(loginRequests)
    .set({ attempts: sql`${loginRequests.attempts} + 1` })
    .where(
      and(
        eq(loginRequests.id, requestId),
        inArray(loginRequests.status, LIVE),
        gt(loginRequests.expiresAt, new Date()),
        lt(loginRequests.attempts, config.maxAttempts),
      ),
    )
    .returning();
  if (!row) throw await refusalFor(db, requestId);

  const codeMatches = safeEqual(codeHashOf(opts.secretKey, requestId, opts.code), row.codeHash);
  const user = codeMatches && row.userId !== null ? await findUserById(db, row.userId) : null;
  try {
    if (!user) throw new AppError('UNAUTHORIZED', 'Invalid code');
    await refuseIfBanned(db, user);
    await verifySecondFactor(db, opts.box, user, opts.totpCode);
  } catch (err) {
    await settleFailedAttempt(db, row, { refund: user !== null && !opts.totpCode, config });
    throw err;
  }

  const [used] = await db
    .update(loginRequests)
    .set({ status: LOGIN_STATUS.USED, codeEncrypted: null })
    .where(
      and(
        eq(loginRequests.id, requestId),
        inArray(loginRequests.status, LIVE),
        gt(loginRequests.expiresAt, new Date()),
      ),
    )
    .returning({ id: loginRequests.id });
  if (!used) throw await refusalFor(db, requestId);

  const session = await createSession(db, opts.secretKey, {
    user,
    method: 'otp',
    ip: normalizeIp(opts.ip),
    ...(opts.userAgent && { userAgent: opts.userAgent }),
  });
  await notifySecurity(
    { db, bus: opts.bus, log: opts.log },
    user.id,
    securityNotice.signIn({ method: 'otp', ip: normalizeIp(opts.ip), userAgent: opts.userAgent }),
  );
  return {
    user: ownProfile(user),
    token: session.token,
    expires_at: session.session.expiresAt.toISOString(),
  };
}

async function settleFailedAttempt(
  db: Db,
  row: LoginRequestRow,
  opts: { refund: boolean; config: OtpConfig },
) {
  if (opts.refund) {
    await db
      .update(loginRequests)
      .set({ attempts: sql`greatest(${loginRequests.attempts} - 1, 0)` })
      .where(eq(loginRequests.id, row.id));
    return;
  }
  if (row.attempts < opts.config.maxAttempts) return;
  await db
    .update(loginRequests)
    .set({ status: LOGIN_STATUS.BURNED, codeEncrypted: null })
    .where(and(eq(loginRequests.id, row.id), inArray(loginRequests.status, LIVE)));
}

/** POST /auth/logout: ends the session that authenticated the request. */
export async function endCurrentSession(opts: { db: Db; sessionId: string | null }) {
  if (!opts.sessionId) throw new AppError('BAD_REQUEST', 'Not signed in with a session');
  const ended = await deleteSession(opts.db, opts.sessionId);
  if (ended)
    await recordActivity(opts.db, { userId: ended.userId, action: 'signed_out', details: 'Signed out' });
  return { success: true as const };
}

/** GET /bot/login-codes: pending, unexpired codes of users linked to the calling bot. */
export async function pickupLoginCodes(opts: { db: Db; box: SecretBox; botId: number }) {
  const rows = await opts.db
    .select({
      id: loginRequests.id,
      userId: users.id,
      username: users.username,
      platformUserId: botUserLinks.platformUserId,
      codeEncrypted: loginRequests.codeEncrypted,
      expiresAt: loginRequests.expiresAt,
    })
    .from(loginRequests)
    .innerJoin(users, eq(users.id, loginRequests.userId))
    .innerJoin(botUserLinks, and(eq(botUserLinks.userId, users.id), eq(botUserLinks.botId, opts.botId)))
    .where(
      and(
        eq(loginRequests.status, LOGIN_STATUS.PENDING),
        gt(loginRequests.expiresAt, new Date()),
        isNotNull(loginRequests.codeEncrypted),
      ),
    )
    .orderBy(asc(loginRequests.createdAt))
    .limit(PICKUP_LIMIT);

  const seen = new Set<string>();
  const codes = [];
  for (const r of rows) {
    // One user linked twice to the same bot would otherwise list the same code twice.
    if (seen.has(r.id) || !r.codeEncrypted) continue;
    seen.add(r.id);
    codes.push({
      request_id: r.id,
      user_id: r.userId,
      platform_user_id: r.platformUserId,
      username: r.username,
      code: opts.box.decrypt(r.codeEncrypted),
      expires_at: r.expiresAt.toISOString(),
    });
  }
  return { codes };
}

/**
 * POST /bot/login-codes/{request_id}/delivered: only for a request of a user linked to this bot;
 * the encrypted code is wiped. Repeating it for the same bot is harmless.
 */
export async function markLoginCodeDelivered(opts: {
  db: Db;
  botId: number;
  botName: string;
  requestId: string;
}) {
  const { db, botId, requestId } = opts;
  const linkedUsers = db
    .select({ userId: botUserLinks.userId })
    .from(botUserLinks)
    .where(eq(botUserLinks.botId, botId));
  const [delivered] = await db
    .update(loginRequests)
    .set({
      status: LOGIN_STATUS.DELIVERED,
      deliveredVia: opts.botName,
      deliveredByBotId: botId,
      codeEncrypted: null,
    })
    .where(
      and(
        eq(loginRequests.id, requestId),
        eq(loginRequests.status, LOGIN_STATUS.PENDING),
        gt(loginRequests.expiresAt, new Date()),
        inArray(loginRequests.userId, linkedUsers),
      ),
    )
    .returning({ id: loginRequests.id });
  if (delivered) return { success: true as const };

  const [current] = await db
    .select({ status: loginRequests.status, deliveredByBotId: loginRequests.deliveredByBotId })
    .from(loginRequests)
    .where(and(eq(loginRequests.id, requestId), inArray(loginRequests.userId, linkedUsers)))
    .limit(1);
  // Requests of users this bot is not linked to do not exist as far as it can tell.
  if (!current) throw new AppError('NOT_FOUND', 'Login request not found');
  if (current.status === LOGIN_STATUS.DELIVERED && current.deliveredByBotId === botId)
    return { success: true as const };
  if (current.status === LOGIN_STATUS.USED) throw new AppError('CONFLICT', 'Login request already used');
  if (current.status === LOGIN_STATUS.DELIVERED)
    throw new AppError('CONFLICT', 'Login code already delivered');
  throw new AppError('CONFLICT', 'Login request expired');
}
