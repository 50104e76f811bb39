import { and, eq, isNull } from 'drizzle-orm';
import type { SecretBox } from '../../core/crypto';
import { AppError } from '../../core/errors';
import type { Db } from '../../db/client';
import { backupCodes, users } from '../../db/schema';
import { recordActivity } from '../activity/activity';
import type { PushDeps } from '../notifications/notify';
import { notifySecurity, securityNotice } from '../notifications/security';
import { requireUser } from '../users/accounts';
import {
  matchTotpStep,
  newTotpSecret,
  provisioningUri,
  replaceBackupCodes,
  verifySecondFactor,
} from './totp';

export async function twoFactorStatus(db: Db, userId: number) {
  const user = await requireUser(db, userId);
  const remaining = user.totpEnabled
    ? await db.$count(backupCodes, and(eq(backupCodes.userId, userId), isNull(backupCodes.usedAt)))
    : 0;
  return { enabled: user.totpEnabled, backup_codes_remaining: remaining };
}

/** POST /api/2fa/setup: a new secret, kept encrypted and pending until a code confirms it. */
export async function setupTwoFactor(db: Db, box: SecretBox, userId: number) {
  const user = await requireUser(db, userId);
  if (user.totpEnabled) throw new AppError('CONFLICT', 'Two-factor authentication is already enabled');
  const secret = newTotpSecret();
  await db
    .update(users)
    .set({ totpPendingSecret: box.encrypt(secret) })
    .where(eq(users.id, userId));
  return { secret, provisioning_uri: provisioningUri(user.username, secret) };
}

/** POST /api/2fa/enable: confirms the pending secret with a code; returns the backup codes once. */
export async function enableTwoFactor(db: Db, box: SecretBox, userId: number, code: string, push: PushDeps) {
  const user = await requireUser(db, userId);
  if (user.totpEnabled) throw new AppError('CONFLICT', 'Two-factor authentication is already enabled');
  if (!user.totpPendingSecret) throw new AppError('BAD_REQUEST', 'Start two-factor setup first');
  const step = matchTotpStep(box.decrypt(user.totpPendingSecret), code.trim());
  if (step === null) throw new AppError('BAD_REQUEST', 'Invalid two-factor code');
  await db
    .update(users)
    .set({
      totpSecret: user.totpPendingSecret,
      totpPendingSecret: null,
      totpEnabled: true,
      totpLastStep: step,
    })
    .where(eq(users.id, userId));
  const backupCodes = await replaceBackupCodes(db, userId);
  await recordActivity(db, {
    userId,
    action: 'two_factor_enabled',
    details: 'Turned on two-factor authentication',
  });
  await notifySecurity({ db, ...push }, userId, securityNotice.twoFactor(true));
  return { enabled: true as const, backup_codes: backupCodes };
}

/** POST /api/2fa/disable: needs a valid code (or a backup code). */
export async function disableTwoFactor(db: Db, box: SecretBox, userId: number, code: string, push: PushDeps) {
  const user = await requireUser(db, userId);
  if (!user.totpEnabled) throw new AppError('CONFLICT', 'Two-factor authentication is not enabled');
  try {
    await verifySecondFactor(db, box, user, code);
  } catch (err) {
    // The caller is signed in: a wrong code is a bad request here, not a lost session.
    if (err instanceof AppError && err.status === 401)
      throw new AppError('BAD_REQUEST', 'Invalid two-factor code');
    throw err;
  }
  await db
    .update(users)
    .set({ totpEnabled: false, totpSecret: null, totpPendingSecret: null, totpLastStep: null })
    .where(eq(users.id, userId));
  await db.delete(backupCodes).where(eq(backupCodes.userId, userId));
  await recordActivity(db, {
    userId,
    action: 'two_factor_disabled',
    details: 'Turned off two-factor authentication',
  });
  await notifySecurity({ db, ...push }, userId, securityNotice.twoFactor(false));
  return { enabled: false as const };
}
