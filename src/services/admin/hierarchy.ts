import { sql } from 'drizzle-orm';
import { AppError } from '../../core/errors';
import type { Db } from '../../db/client';
import { users } from '../../db/schema';
import type { SystemActor, UserActor } from '../auth/actor';
import type { UserRow } from '../users/accounts';
import { canActOn, LEVEL_NAMES, maxAssignableLevel } from '../users/policy';

// The seed 003 hierarchy for every admin action, in one place: act only on users strictly below
// you (Owners on everyone), assign levels only up to what your own level allows.

/** Who may call the admin router: an Admin/Owner user, or the CLI's built-in system owner. */
export type AdminActor = UserActor | SystemActor;

const capitalise = (s: string) => s.charAt(0).toUpperCase() + s.slice(1);

export function assertCanActOn(actor: AdminActor, target: Pick<UserRow, 'permissionLevel'>) {
  if (!canActOn(actor.level, target.permissionLevel)) {
    throw new AppError('FORBIDDEN', 'You can only act on users below your level');
  }
}

export function assertCanAssign(actor: AdminActor, level: number) {
  const max = maxAssignableLevel(actor.level, actor.kind === 'system');
  if (level > max) {
    throw new AppError(
      'FORBIDDEN',
      `You can only assign levels up to ${capitalise(LEVEL_NAMES[max] ?? 'user')}`,
    );
  }
}

/**
 * The target of an action, locked for the rest of the caller's transaction (so two admins acting
 * on one user at once are serialised), after the hierarchy check.
 */
export async function lockTargetUser(tx: Db, actor: AdminActor, username: string): Promise<UserRow> {
  const [row] = await tx
    .select()
    .from(users)
    .where(sql`lower(${users.username}) = lower(${username})`)
    .limit(1)
    .for('update');
  if (!row) throw new AppError('NOT_FOUND', 'User not found');
  assertCanActOn(actor, row);
  return row;
}

/**
 * Runs `work` in one transaction so an action and its audit row commit together. Drizzle types a
 * transaction apart from the database object; every query helper here only uses what both share.
 */
export function inTransaction<T>(db: Db, work: (tx: Db) => Promise<T>): Promise<T> {
  return db.transaction((tx) => work(tx as unknown as Db));
}
