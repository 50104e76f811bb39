import { eq } from 'drizzle-orm';
import type { SecretBox } from '../../core/crypto';
import type { Db } from '../../db/client';
import { punishments, users } from '../../db/schema';
import { writeAudit } from '../audit/audit';
import { auditActorOf } from '../auth/actor';
import { endUserSessions } from '../auth/sessions';
import { moderationNotice } from '../notifications/moderation';
import { type PreparedNotification, type PushDeps, prepareNotification } from '../notifications/notify';
import { applySiteRestriction } from '../rooms/control';
import { createUser, type UserRow } from '../users/accounts';
import { LEVEL, STATE } from '../users/policy';
import { fullProfile } from '../users/views';
import { type AdminActor, assertCanAssign, inTransaction, lockTargetUser } from './hierarchy';

// User moderation and permissions of API.md §10; every function writes the audit log.

type Action = { db: Db; actor: AdminActor; username: string; reason?: string | undefined };

/** Warn, timeout and ban also notify the user (API.md §4 `moderation`). */
type Moderation = Action & PushDeps;

/** The notice is written in the action's transaction and pushed once that has committed. */
async function withNotice<T>(
  deps: PushDeps,
  work: Promise<{ result: T; notice: PreparedNotification }>,
): Promise<T> {
  const { result, notice } = await work;
  await notice.publish(deps);
  return result;
}

const userTarget = (user: UserRow) => ({ targetType: 'user', targetId: user.id });
const userAfter = async (tx: Db, id: number) => {
  const [row] = await tx.select().from(users).where(eq(users.id, id));
  return fullProfile(row!);
};

export async function adminCreateUser(opts: {
  db: Db;
  /** Seals the `user.joined` webhook event. */
  secretBox?: SecretBox;
  actor: AdminActor;
  username: string;
  password?: string | undefined;
  level?: number | undefined;
}) {
  const level = opts.level ?? LEVEL.USER;
  assertCanAssign(opts.actor, level);
  return inTransaction(opts.db, async (tx) => {
    const user = await createUser(tx, {
      username: opts.username,
      password: opts.password ?? null,
      level,
      ...(opts.secretBox && { secretBox: opts.secretBox }),
    });
    await writeAudit(tx, {
      actor: auditActorOf(opts.actor),
      action: 'user.create',
      ...userTarget(user),
      details: { username: user.username, level, password_set: Boolean(opts.password) },
    });
    return fullProfile(user);
  });
}

/** Banned: state 2 with the reason; every session ends at once (API.md §1), room control too. */
export async function banUser({ db, bus, log, actor, username, reason }: Moderation) {
  const work = inTransaction(db, async (tx) => {
    const user = await lockTargetUser(tx, actor, username);
    await tx
      .update(users)
      .set({ state: STATE.BANNED, stateReason: reason ?? null, stateExpiresAt: null, updatedAt: new Date() })
      .where(eq(users.id, user.id));
    const endedSessions = await endUserSessions(tx, user.id);
    await tx
      .insert(punishments)
      .values({ userId: user.id, actorUserId: actorId(actor), kind: 'ban', reason });
    await writeAudit(tx, {
      actor: auditActorOf(actor),
      action: 'user.ban',
      ...userTarget(user),
      reason,
      details: { ended_sessions: endedSessions },
    });
    const notice = await prepareNotification(tx, moderationNotice(user.id, { action: 'ban', reason }));
    return { result: { user: await userAfter(tx, user.id), ended_sessions: endedSessions }, notice };
  });
  const result = await withNotice({ bus, log }, work);
  await applySiteRestriction({ db, bus, log }, result.user.id);
  return result;
}

/** Back to Active, whether the user was banned or timed out. */
export function unbanUser({ db, actor, username, reason }: Action) {
  return inTransaction(db, async (tx) => {
    const user = await lockTargetUser(tx, actor, username);
    await tx
      .update(users)
      .set({ state: STATE.ACTIVE, stateReason: null, stateExpiresAt: null, updatedAt: new Date() })
      .where(eq(users.id, user.id));
    await writeAudit(tx, {
      actor: auditActorOf(actor),
      action: 'user.unban',
      ...userTarget(user),
      reason,
      details: { previous_state: user.state },
    });
    return { user: await userAfter(tx, user.id) };
  });
}

export function warnUser({ db, bus, log, actor, username, reason }: Moderation) {
  const work = inTransaction(db, async (tx) => {
    const user = await lockTargetUser(tx, actor, username);
    const [row] = await tx
      .insert(punishments)
      .values({ userId: user.id, actorUserId: actorId(actor), kind: 'warn', reason })
      .returning({ id: punishments.id });
    await writeAudit(tx, { actor: auditActorOf(actor), action: 'user.warn', ...userTarget(user), reason });
    const notice = await prepareNotification(tx, moderationNotice(user.id, { action: 'warn', reason }));
    return { result: { user: await userAfter(tx, user.id), punishment_id: row!.id }, notice };
  });
  return withNotice({ bus, log }, work);
}

/**
 * Timeout: state 1 until `minutes` from now; reads still work, changes are refused (seed 001),
 * WebSocket actions included: the user loses control of any room browser.
 */
export async function timeoutUser({
  db,
  bus,
  log,
  actor,
  username,
  reason,
  minutes,
}: Moderation & { minutes: number }) {
  const work = inTransaction(db, async (tx) => {
    const user = await lockTargetUser(tx, actor, username);
    const expiresAt = new Date(Date.now() + minutes * 60_000);
    await tx
      .update(users)
      .set({
        state: STATE.TIMEOUT,
        stateReason: reason ?? null,
        stateExpiresAt: expiresAt,
        updatedAt: new Date(),
      })
      .where(eq(users.id, user.id));
    await tx
      .insert(punishments)
      .values({ userId: user.id, actorUserId: actorId(actor), kind: 'timeout', reason, expiresAt });
    await writeAudit(tx, {
      actor: auditActorOf(actor),
      action: 'user.timeout',
      ...userTarget(user),
      reason,
      details: { minutes, expires_at: expiresAt.toISOString() },
    });
    const notice = await prepareNotification(
      tx,
      moderationNotice(user.id, { action: 'timeout', reason, minutes, expiresAt }),
    );
    return { result: { user: await userAfter(tx, user.id) }, notice };
  });
  const result = await withNotice({ bus, log }, work);
  await applySiteRestriction({ db, bus, log }, result.user.id);
  return result;
}

/** Removes the account; sessions, keys and punishments go with it (foreign keys cascade). */
export function deleteUser({ db, actor, username, reason }: Action) {
  return inTransaction(db, async (tx) => {
    const user = await lockTargetUser(tx, actor, username);
    // The audit row comes first: an Owner deleting their own account is still recorded by id.
    await writeAudit(tx, {
      actor: auditActorOf(actor),
      action: 'user.delete',
      ...userTarget(user),
      reason,
      details: { username: user.username, level: user.permissionLevel },
    });
    await tx.delete(users).where(eq(users.id, user.id));
    return { id: user.id, username: user.username, deleted: true as const };
  });
}

/** Service access scopes (`access:*`, `access:<category>`), already normalised by the router. */
export function setUserScopes({ db, actor, username, scopes }: Omit<Action, 'reason'> & { scopes: string }) {
  return inTransaction(db, async (tx) => {
    const user = await lockTargetUser(tx, actor, username);
    await tx.update(users).set({ scopes, updatedAt: new Date() }).where(eq(users.id, user.id));
    await writeAudit(tx, {
      actor: auditActorOf(actor),
      action: 'user.scopes',
      ...userTarget(user),
      details: { from: user.scopes, to: scopes },
    });
    return { user: await userAfter(tx, user.id) };
  });
}

/**
 * Promote or demote. The actor must outrank the target's current level and may assign only up to
 * their own ceiling. The target's sessions end, so the fixed TTL of the new level applies (1 day
 * for Admin/Owner, 30 days for users).
 */
export function setUserLevel({ db, actor, username, level, reason }: Action & { level: number }) {
  assertCanAssign(actor, level);
  return inTransaction(db, async (tx) => {
    const user = await lockTargetUser(tx, actor, username);
    const from = user.permissionLevel;
    const action = level > from ? 'user.promote' : level < from ? 'user.demote' : 'user.set_level';
    let endedSessions = 0;
    if (level !== from) {
      await tx
        .update(users)
        .set({ permissionLevel: level, updatedAt: new Date() })
        .where(eq(users.id, user.id));
      endedSessions = await endUserSessions(tx, user.id);
    }
    await writeAudit(tx, {
      actor: auditActorOf(actor),
      action,
      ...userTarget(user),
      reason,
      details: { from, to: level, ended_sessions: endedSessions },
    });
    return { user: await userAfter(tx, user.id), ended_sessions: endedSessions };
  });
}

const actorId = (actor: AdminActor) => (actor.kind === 'user' ? actor.userId : null);
