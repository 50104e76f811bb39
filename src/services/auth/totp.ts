import { createHash } from 'node:crypto';
import { decodeBase32IgnorePadding, encodeBase32NoPadding } from '@oslojs/encoding';
import { createTOTPKeyURI, generateHOTP } from '@oslojs/otp';
import { and, eq, isNull } from 'drizzle-orm';
import { randomToken, type SecretBox, safeEqual, sha256Hex } from '../../core/crypto';
import { AppError } from '../../core/errors';
import type { Db } from '../../db/client';
import { backupCodes, users } from '../../db/schema';

export const TOTP_PERIOD_SECONDS = 30;
export const TOTP_DIGITS = 6;
export const BACKUP_CODE_COUNT = 10;

type UserRow = typeof users.$inferSelect;

export const newTotpSecret = () => encodeBase32NoPadding(crypto.getRandomValues(new Uint8Array(20)));

/** The current code (tests and operators' tooling). */
export const currentTotp = (secret: string, now = Date.now()) =>
  generateHOTP(
    decodeBase32IgnorePadding(secret),
    BigInt(Math.floor(now / 1000 / TOTP_PERIOD_SECONDS)),
    TOTP_DIGITS,
  );

export const provisioningUri = (username: string, secret: string) =>
  createTOTPKeyURI('Portal', username, decodeBase32IgnorePadding(secret), TOTP_PERIOD_SECONDS, TOTP_DIGITS);

/**
 * The time step whose code matches, allowing one step of clock drift either way; null when none
 * does. Comparison is constant-time.
 */
export function matchTotpStep(secret: string, code: string, now = Date.now()): number | null {
  if (!/^\d{6}$/.test(code)) return null;
  const key = decodeBase32IgnorePadding(secret);
  const step = Math.floor(now / 1000 / TOTP_PERIOD_SECONDS);
  let matched: number | null = null;
  for (const s of [step - 1, step, step + 1]) {
    // A TOTP code is the HOTP code of its time step (RFC 6238).
    const candidate = generateHOTP(key, BigInt(s), TOTP_DIGITS);
    if (safeEqual(candidate, code) && matched === null) matched = s;
  }
  return matched;
}

export const hashBackupCode = (code: string) =>
  sha256Hex(`backup:${code.replace(/[\s-]/g, '').toLowerCase()}`);

/** Ten single-use backup codes, returned once and stored only as hashes. */
export async function replaceBackupCodes(db: Db, userId: number): Promise<string[]> {
  const codes = Array.from({ length: BACKUP_CODE_COUNT }, () => {
    const raw = createHash('sha256').update(randomToken(16)).digest('hex').slice(0, 10);
    return `${raw.slice(0, 5)}-${raw.slice(5)}`;
  });
  await db.delete(backupCodes).where(eq(backupCodes.userId, userId));
  await db.insert(backupCodes).values(codes.map((c) => ({ userId, codeHash: hashBackupCode(c) })));
  return codes;
}

/**
 * The second factor at sign-in (and for disabling 2FA): a current TOTP code that was not used
 * before, or an unused backup code, which is then spent.
 */
export async function verifySecondFactor(
  db: Db,
  box: SecretBox,
  user: UserRow,
  code: string | undefined,
): Promise<void> {
  if (!user.totpEnabled || !user.totpSecret) return;
  if (!code) throw new AppError('UNAUTHORIZED', 'Two-factor code required', { totp_required: true });
  const step = matchTotpStep(box.decrypt(user.totpSecret), code.trim());
  if (step !== null) {
    // One code works once: a replay inside its 90-second window is refused.
    if (user.totpLastStep !== null && step <= user.totpLastStep)
      throw new AppError('UNAUTHORIZED', 'Invalid two-factor code');
    await db.update(users).set({ totpLastStep: step }).where(eq(users.id, user.id));
    return;
  }
  const [spent] = await db
    .update(backupCodes)
    .set({ usedAt: new Date() })
    .where(
      and(
        eq(backupCodes.userId, user.id),
        eq(backupCodes.codeHash, hashBackupCode(code)),
        isNull(backupCodes.usedAt),
      ),
    )
    .returning({ id: backupCodes.id });
  if (!spent) throw new AppError('UNAUTHORIZED', 'Invalid two-factor code');
}
