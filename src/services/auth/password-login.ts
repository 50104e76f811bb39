import { and, eq, gt } from 'drizzle-orm';
import { normalizeIp } from '../../core/client-ip';
import type { SecretBox } from '../../core/crypto';
import { hashPassword, hmacHex, verifyPassword } from '../../core/crypto';
import type { Env } from '../../core/env';
import { AppError } from '../../core/errors';
import type { Db } from '../../db/client';
import { registrations, users } from '../../db/schema';
import { recordActivity } from '../activity/activity';
import type { PushDeps } from '../notifications/notify';
import { notifySecurity, securityNotice } from '../notifications/security';
import { getServerSettings, inviteRotationOf } from '../settings/settings';
import { createUser, findUserByUsername, requireUser } from '../users/accounts';
import { isValidInviteCode } from './invite-code';
import { refuseIfBanned } from './resolve';
import { createSession, endUserSessions } from './sessions';
import { verifySecondFactor } from './totp';

const REGISTRATION_WINDOW_MS = 24 * 60 * 60 * 1000;

type Keys = { secretKey: Buffer; secretBox: SecretBox };

/** POST /api/token: the same answer for an unknown user and a wrong password. */
export async function signInWithPassword(
  db: Db,
  keys: Keys & PushDeps,
  opts: {
    username: string;
    password: string;
    totpCode?: string | undefined;
    ip: string;
    userAgent?: string | undefined;
  },
) {
  const user = await findUserByUsername(db, opts.username);
  const ok = await verifyPassword(opts.password, user?.passwordHash ?? null);
  if (!user || !ok) throw new AppError('UNAUTHORIZED', 'Invalid username or password');
  await refuseIfBanned(db, user);
  await verifySecondFactor(db, keys.secretBox, user, opts.totpCode);
  const created = await createSession(db, keys.secretKey, {
    user,
    method: 'password',
    ip: opts.ip,
    ...(opts.userAgent && { userAgent: opts.userAgent }),
  });
  await notifySecurity(
    { db, bus: keys.bus, log: keys.log },
    user.id,
    securityNotice.signIn({ method: 'password', ip: normalizeIp(opts.ip), userAgent: opts.userAgent }),
  );
  return { user, ...created };
}

/**
 * POST /api/register: only while the operator keeps registration open; today's invite code (after
 * the latest rotation), one account per client IP per 24 hours.
 */
export async function registerAccount(
  db: Db,
  keys: Keys & { env: Env },
  opts: { username: string; password: string; inviteCode: string; ip: string },
) {
  const [settings, rotation] = await Promise.all([
    getServerSettings({ db, env: keys.env }),
    inviteRotationOf(db),
  ]);
  if (!settings.registration_open)
    throw new AppError('FORBIDDEN', 'Registration is closed on this server', {
      reason: 'registration_closed',
    });
  if (!isValidInviteCode(keys.secretKey, opts.inviteCode, new Date(), rotation))
    throw new AppError('FORBIDDEN', 'Invalid invite code');
  const ipHash = hmacHex(keys.secretKey, 'ip', opts.ip);
  const recent = await db.$count(
    registrations,
    and(
      eq(registrations.ipHash, ipHash),
      gt(registrations.createdAt, new Date(Date.now() - REGISTRATION_WINDOW_MS)),
    ),
  );
  if (recent > 0) {
    throw new AppError('TOO_MANY_REQUESTS', 'Only one account may be registered per address every 24 hours');
  }
  const user = await createUser(db, {
    username: opts.username,
    password: opts.password,
    secretBox: keys.secretBox,
  });
  await db.insert(registrations).values({ ipHash, userId: user.id });
  return user;
}

/** PUT /api/me/password: ends every other session of the user, and tells the user (`security`). */
export async function changePassword(
  db: Db,
  opts: PushDeps & {
    userId: number;
    currentPassword: string;
    newPassword: string;
    keepSessionId: string | null;
  },
) {
  const user = await requireUser(db, opts.userId);
  // Accounts made by bots have no password yet: they set one without a current password.
  if (user.passwordHash !== null && !(await verifyPassword(opts.currentPassword, user.passwordHash))) {
    throw new AppError('FORBIDDEN', 'Current password is incorrect');
  }
  await db
    .update(users)
    .set({ passwordHash: await hashPassword(opts.newPassword), updatedAt: new Date() })
    .where(eq(users.id, user.id));
  const endedSessions = await endUserSessions(db, user.id, opts.keepSessionId);
  await recordActivity(db, {
    userId: user.id,
    action: 'password_changed',
    details: 'Changed their password',
  });
  await notifySecurity(
    { db, bus: opts.bus, log: opts.log },
    user.id,
    securityNotice.passwordChanged(endedSessions),
  );
  return { endedSessions };
}
