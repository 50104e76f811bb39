import { and, eq, inArray, isNotNull, lte, sql } from 'drizzle-orm';
import { AppError } from '../../core/errors';
import type { Logger } from '../../core/log';
import type { Db } from '../../db/client';
import { auditLog, users } from '../../db/schema';
import { writeAudit } from '../audit/audit';
import { auditActorOf, SYSTEM_ACTOR } from '../auth/actor';
import { TIER, TIER_NAMES, TRIAL_DAYS } from '../users/policy';
import { fullProfile, subscriptionOf } from '../users/views';
import { type AdminActor, inTransaction, lockTargetUser } from './hierarchy';

// Subscription tiers of seed 003: Trial is always 7 days and once per user ever (checked from the
// audit log), Premium has an admin-set expiry, Lifetime never expires; expired ones fall to Basic.

export type GrantableTier = 'trial' | 'premium' | 'lifetime';

const DAY_MS = 24 * 60 * 60 * 1000;
const GRANT_ACTION = 'subscription.grant';

export function grantSubscription(opts: {
  db: Db;
  actor: AdminActor;
  username: string;
  tier: GrantableTier;
  days?: number | undefined;
}) {
  const { tier, days } = opts;
  if (tier === 'premium' && days === undefined)
    throw new AppError('BAD_REQUEST', 'days is required for a premium subscription');
  return inTransaction(opts.db, async (tx) => {
    // The row lock also serialises two trial grants for one user.
    const user = await lockTargetUser(tx, opts.actor, opts.username);
    if (tier === 'trial' && (await hadTrial(tx, user.id)))
      throw new AppError('CONFLICT', 'Trial already granted');
    const now = Date.now();
    const expiresAt =
      tier === 'trial'
        ? new Date(now + TRIAL_DAYS * DAY_MS)
        : tier === 'premium'
          ? new Date(now + days! * DAY_MS)
          : null;
    const tierValue = tier === 'trial' ? TIER.TRIAL : tier === 'premium' ? TIER.PREMIUM : TIER.LIFETIME;
    await tx
      .update(users)
      .set({ subscriptionTier: tierValue, subscriptionExpiresAt: expiresAt, updatedAt: new Date() })
      .where(eq(users.id, user.id));
    await writeAudit(tx, {
      actor: auditActorOf(opts.actor),
      action: GRANT_ACTION,
      targetType: 'user',
      targetId: user.id,
      details: {
        tier,
        ...(days !== undefined && { requested_days: days }),
        days: tier === 'trial' ? TRIAL_DAYS : tier === 'premium' ? days : null,
        expires_at: expiresAt?.toISOString() ?? null,
        previous_tier: TIER_NAMES[user.subscriptionTier] ?? user.subscriptionTier,
      },
    });
    return subscriptionResult(tx, user.id);
  });
}

/** Back to Basic with no expiry. A revoked trial still counts as granted. */
export function revokeSubscription(opts: {
  db: Db;
  actor: AdminActor;
  username: string;
  reason?: string | undefined;
}) {
  return inTransaction(opts.db, async (tx) => {
    const user = await lockTargetUser(tx, opts.actor, opts.username);
    await tx
      .update(users)
      .set({ subscriptionTier: TIER.BASIC, subscriptionExpiresAt: null, updatedAt: new Date() })
      .where(eq(users.id, user.id));
    await writeAudit(tx, {
      actor: auditActorOf(opts.actor),
      action: 'subscription.revoke',
      targetType: 'user',
      targetId: user.id,
      reason: opts.reason,
      details: { previous_tier: TIER_NAMES[user.subscriptionTier] ?? user.subscriptionTier },
    });
    return subscriptionResult(tx, user.id);
  });
}

/** Trial eligibility comes from the audit log (seed 003), so deleting the tier does not reset it. */
async function hadTrial(tx: Db, userId: number) {
  const [row] = await tx
    .select({ id: auditLog.id })
    .from(auditLog)
    .where(
      and(
        eq(auditLog.targetType, 'user'),
        eq(auditLog.targetId, String(userId)),
        eq(auditLog.action, GRANT_ACTION),
        sql`${auditLog.details}->>'tier' = 'trial'`,
      ),
    )
    .limit(1);
  return row !== undefined;
}

async function subscriptionResult(tx: Db, userId: number) {
  const [row] = await tx.select().from(users).where(eq(users.id, userId));
  return { user: fullProfile(row!), subscription: subscriptionOf(row!) };
}

/**
 * Trial and Premium subscriptions whose expiry has passed fall back to Basic, each with an audit
 * row by the system actor. One statement per run; on PostgreSQL with several nodes the row locks
 * make each downgrade happen (and be audited) once.
 */
export function downgradeExpiredSubscriptions(db: Db, now = new Date()) {
  return inTransaction(db, async (tx) => {
    const expired = await tx
      .update(users)
      .set({ subscriptionTier: TIER.BASIC, subscriptionExpiresAt: null, updatedAt: now })
      .where(
        and(
          inArray(users.subscriptionTier, [TIER.TRIAL, TIER.PREMIUM]),
          isNotNull(users.subscriptionExpiresAt),
          lte(users.subscriptionExpiresAt, now),
        ),
      )
      .returning({ id: users.id, username: users.username });
    for (const user of expired) {
      await writeAudit(tx, {
        actor: auditActorOf(SYSTEM_ACTOR),
        action: 'subscription.expire',
        targetType: 'user',
        targetId: user.id,
        details: { username: user.username },
      });
    }
    return { downgraded: expired.length };
  });
}

export const SUBSCRIPTION_SWEEP_MS = 60_000;

/**
 * Runs the downgrade once now (so a restart catches up on anything that expired while the server
 * was down) and then every `intervalMs` on an unref'd timer. `stop()` waits for a running sweep.
 */
export async function startSubscriptionExpiry(opts: { db: Db; log: Logger; intervalMs?: number }) {
  let running: Promise<void> = Promise.resolve();
  const sweep = () => {
    running = running.then(async () => {
      try {
        const { downgraded } = await downgradeExpiredSubscriptions(opts.db);
        if (downgraded > 0) opts.log.info({ downgraded }, 'expired subscriptions downgraded to basic');
      } catch (err) {
        opts.log.error({ err }, 'subscription expiry sweep failed');
      }
    });
    return running;
  };
  await sweep();
  const timer = setInterval(sweep, opts.intervalMs ?? SUBSCRIPTION_SWEEP_MS);
  timer.unref();
  return {
    async stop() {
      clearInterval(timer);
      await running;
    },
  };
}
