// Permission levels, user states, subscription tiers and chat slots of seed 003 (binding values).

export const LEVEL = { USER: 0, ADMIN: 2, OWNER: 3 } as const;
export const STATE = { ACTIVE: 0, TIMEOUT: 1, BANNED: 2 } as const;
export const TIER = { BASIC: 0, TRIAL: 1, PREMIUM: 2, LIFETIME: 3 } as const;
export const BOT_TYPE = { OFFICIAL: 1, VERIFIED: 2, COMMUNITY: 3 } as const;

export const LEVEL_NAMES: Record<number, string> = { 0: 'user', 2: 'admin', 3: 'owner' };
export const TIER_NAMES = ['basic', 'trial', 'premium', 'lifetime'] as const;
export const STATE_NAMES = ['active', 'timeout', 'banned'] as const;

export const TRIAL_DAYS = 7;

/** Strict hierarchy: act only on users below you; Owners act on everyone, other Owners included. */
export function canActOn(actorLevel: number, targetLevel: number): boolean {
  return actorLevel >= LEVEL.OWNER || actorLevel > targetLevel;
}

/**
 * The highest level an actor may assign: Owners up to Admin, Admins up to User. The CLI's
 * built-in system owner (`system: true`) may also create Owners, or no Owner could ever exist.
 */
export function maxAssignableLevel(actorLevel: number, system = false): number {
  if (system) return LEVEL.OWNER;
  if (actorLevel >= LEVEL.OWNER) return LEVEL.ADMIN;
  return LEVEL.USER;
}

/** has_premium: any non-Basic tier that has not expired (Lifetime never expires). */
export function hasPremium(tier: number, expiresAt: Date | null, now = new Date()): boolean {
  if (tier === TIER.BASIC) return false;
  if (tier === TIER.LIFETIME) return true;
  return expiresAt !== null && expiresAt.getTime() > now.getTime();
}

/** Chat slots: Basic 0, Trial/Premium 1, Admin 5 whatever the tier, Owner unlimited (null). */
export function chatSlots(level: number, premium: boolean): number | null {
  if (level >= LEVEL.OWNER) return null;
  if (level >= LEVEL.ADMIN) return 5;
  return premium ? 1 : 0;
}

/** Fixed session lifetime from sign-in: 1 day for Admin/Owner, 30 days for users. */
export function sessionTtlMs(level: number): number {
  return (level >= LEVEL.ADMIN ? 1 : 30) * 24 * 60 * 60 * 1000;
}

/** A timeout whose end has passed no longer restricts anyone. */
export function effectiveState(state: number, expiresAt: Date | null, now = new Date()): number {
  if (state === STATE.TIMEOUT && expiresAt && expiresAt.getTime() <= now.getTime()) return STATE.ACTIVE;
  return state;
}
