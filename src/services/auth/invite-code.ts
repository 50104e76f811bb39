import { hmacHex, safeEqual } from '../../core/crypto';

/**
 * The daily registration invite code (seed 002): derived from the secret key and the UTC date,
 * so every node agrees on it without storing anything. `invite today` prints it. `invite rotate`
 * stores a random rotation that enters the derivation: the code in use stops working at once and
 * every later day's code differs too. Without a rotation the derivation is the original one.
 */
export function inviteCodeFor(secretKey: Buffer, date = new Date(), rotation: string | null = null): string {
  const day = date.toISOString().slice(0, 10);
  return hmacHex(secretKey, 'invite-code', rotation === null ? day : `${day}:${rotation}`)
    .slice(0, 10)
    .toUpperCase();
}

export function isValidInviteCode(
  secretKey: Buffer,
  code: string,
  now = new Date(),
  rotation: string | null = null,
): boolean {
  return safeEqual(code.trim().toUpperCase(), inviteCodeFor(secretKey, now, rotation));
}
