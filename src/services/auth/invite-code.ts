import { hmacHex, safeEqual } from '../../core/crypto';

/**
 * The daily registration invite code (seed 002): derived from the secret key and the UTC date,
 * so every node agrees on it without storing anything. `invite today` prints it.
 */
export function inviteCodeFor(secretKey: Buffer, date = new Date()): string {
  const day = date.toISOString().slice(0, 10);
  return hmacHex(secretKey, 'invite-code', day).slice(0, 10).toUpperCase();
}

export function isValidInviteCode(secretKey: Buffer, code: string, now = new Date()): boolean {
  return safeEqual(code.trim().toUpperCase(), inviteCodeFor(secretKey, now));
}
