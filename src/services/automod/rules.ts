import { asc, count, eq } from 'drizzle-orm';
import type { Bus } from '../../core/bus/types';
import { AppError, describeZodIssue } from '../../core/errors';
import type { Db } from '../../db/client';
import { automodRules } from '../../db/schema';
import type { AdminActor } from '../admin/hierarchy';
import { inTransaction } from '../admin/hierarchy';
import { writeAudit } from '../audit/audit';
import { auditActorOf } from '../auth/actor';
import { isUniqueViolation } from '../users/accounts';
import { forgetCompiledRules } from './cache';
import {
  AUTOMOD_LIMITS,
  type AutomodRule,
  type AutomodRuleInput,
  type AutomodRulePatch,
  ZAutomodRule,
} from './schemas';

// Admins manage auto-moderation rules through the admin router and CLI (API.md §8/§10: not REST).
// Every change is audited and reaches every node's rule cache at once through the Bus.

export type RuleRow = typeof automodRules.$inferSelect;
type Deps = { db: Db; bus: Bus; actor: AdminActor };

export function ruleView(r: RuleRow) {
  return {
    id: r.id,
    name: r.name,
    kind: r.kind as AutomodRule['kind'],
    config: r.config,
    action: r.action as AutomodRule['action'],
    timeout_minutes:
      r.action === 'timeout' ? (r.timeoutMinutes ?? AUTOMOD_LIMITS.TIMEOUT_DEFAULT_MINUTES) : null,
    contexts: r.contexts as AutomodRule['contexts'],
    channel_ids: r.channelIds,
    enabled: r.enabled,
    created_by: r.createdBy,
    created_at: r.createdAt.toISOString(),
    updated_at: r.updatedAt.toISOString(),
  };
}
export type RuleView = ReturnType<typeof ruleView>;

/** Validation of a whole rule, with the contract's sentence for the first problem. */
function validRule(input: unknown): AutomodRule {
  const parsed = ZAutomodRule.safeParse(input);
  if (!parsed.success) throw new AppError('BAD_REQUEST', describeZodIssue(parsed.error.issues[0]!));
  return parsed.data;
}

const columnsOf = (rule: AutomodRule) => ({
  name: rule.name,
  kind: rule.kind,
  config: rule.config as Record<string, unknown>,
  action: rule.action,
  timeoutMinutes:
    rule.action === 'timeout' ? (rule.timeout_minutes ?? AUTOMOD_LIMITS.TIMEOUT_DEFAULT_MINUTES) : null,
  contexts: [...new Set(rule.contexts)],
  channelIds: rule.channel_ids ? [...new Set(rule.channel_ids)] : null,
  enabled: rule.enabled,
});

async function saved<T>(work: Promise<T>): Promise<T> {
  try {
    return await work;
  } catch (err) {
    if (isUniqueViolation(err)) throw new AppError('CONFLICT', 'A rule with this name already exists');
    throw err;
  }
}

export async function listRules(db: Db) {
  const rows = await db.select().from(automodRules).orderBy(asc(automodRules.id));
  return { rules: rows.map(ruleView) };
}

async function findRule(db: Db, id: number) {
  const [row] = await db.select().from(automodRules).where(eq(automodRules.id, id));
  if (!row) throw new AppError('NOT_FOUND', 'Rule not found');
  return row;
}

export async function getRule(db: Db, id: number) {
  return ruleView(await findRule(db, id));
}

export async function createRule({ db, bus, actor }: Deps, input: AutomodRuleInput) {
  const rule = validRule(input);
  const row = await saved(
    inTransaction(db, async (tx) => {
      const [n] = await tx.select({ n: count() }).from(automodRules);
      if ((n?.n ?? 0) >= AUTOMOD_LIMITS.RULES_MAX)
        throw new AppError('BAD_REQUEST', `There can be at most ${AUTOMOD_LIMITS.RULES_MAX} rules`);
      const [made] = await tx
        .insert(automodRules)
        .values({ ...columnsOf(rule), createdBy: actor.kind === 'user' ? actor.userId : null })
        .returning();
      await writeAudit(tx, {
        actor: auditActorOf(actor),
        action: 'automod.rule_create',
        targetType: 'automod_rule',
        targetId: made!.id,
        details: { rule: ruleView(made!) },
      });
      return made!;
    }),
  );
  await forgetCompiledRules(db, bus);
  return ruleView(row);
}

export async function updateRule({ db, bus, actor }: Deps, id: number, patch: AutomodRulePatch) {
  const row = await saved(
    inTransaction(db, async (tx) => {
      const [before] = await tx.select().from(automodRules).where(eq(automodRules.id, id)).for('update');
      if (!before) throw new AppError('NOT_FOUND', 'Rule not found');
      const current = ruleView(before);
      const rule = validRule({
        kind: current.kind,
        name: patch.name ?? current.name,
        config: patch.config ?? current.config,
        action: patch.action ?? current.action,
        // A rule switched away from timeout forgets its length; one switched to it keeps the default.
        timeout_minutes:
          patch.timeout_minutes !== undefined
            ? patch.timeout_minutes
            : (patch.action ?? current.action) === 'timeout'
              ? current.timeout_minutes
              : null,
        contexts: patch.contexts ?? current.contexts,
        channel_ids: patch.channel_ids !== undefined ? patch.channel_ids : current.channel_ids,
        enabled: patch.enabled ?? current.enabled,
      });
      const [after] = await tx
        .update(automodRules)
        .set({ ...columnsOf(rule), updatedAt: new Date() })
        .where(eq(automodRules.id, id))
        .returning();
      await writeAudit(tx, {
        actor: auditActorOf(actor),
        action: 'automod.rule_update',
        targetType: 'automod_rule',
        targetId: id,
        details: { before: current, patch },
      });
      return after!;
    }),
  );
  await forgetCompiledRules(db, bus);
  return ruleView(row);
}

export async function deleteRule({ db, bus, actor }: Deps, id: number) {
  await inTransaction(db, async (tx) => {
    const [gone] = await tx.delete(automodRules).where(eq(automodRules.id, id)).returning();
    if (!gone) throw new AppError('NOT_FOUND', 'Rule not found');
    await writeAudit(tx, {
      actor: auditActorOf(actor),
      action: 'automod.rule_delete',
      targetType: 'automod_rule',
      targetId: id,
      details: { rule: ruleView(gone) },
    });
  });
  await forgetCompiledRules(db, bus);
  return { success: true as const, id };
}
