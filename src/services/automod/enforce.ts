import { AppError } from '../../core/errors';
import { timeoutUser, warnUser } from '../admin/users';
import { writeAudit } from '../audit/audit';
import { SYSTEM_ACTOR } from '../auth/actor';
import type { CompiledRule } from './cache';
import { AUTOMOD_LIMITS, type AutomodAction } from './schemas';
import {
  type AutomodDeps,
  type AutomodMessage,
  applicableRules,
  contentTriggers,
  floodHits,
  SEVERITY,
  type Trigger,
} from './triggers';

// Auto-moderation runs before a message is stored (seed 002): channel messages and edits, DMs and
// their edits, plain-text room messages. Every rule that triggers is written to the audit log; the
// strongest action among them is applied:
//   warn    the message goes through; the author gets a warning (punishment + `moderation` notice)
//   block   the message is refused with the reason, so its author can reword it
//   delete  the message is not stored (an edit removes the original message) and the author is told
//   timeout the message is not stored and the author is timed out site-wide (seed 003 state 1)
// Moderators+ are never checked: channel moderators in their channel, a room's owner and
// moderators in that room, Admins and Owners everywhere.

/** The actor of automod's own audit entries. */
export const AUTOMOD_ACTOR = { userId: null, label: 'automod' } as const;

async function triggersOf(deps: AutomodDeps, m: AutomodMessage): Promise<Trigger[]> {
  const rules = await applicableRules(deps, m);
  const { found, unchecked } = await contentTriggers(deps, rules, m.text);
  if (unchecked.length) await reportUnchecked(deps, m, unchecked);
  return m.edit ? found : [...found, ...(await floodHits(deps, rules, m))];
}

/**
 * Regex rules that did not answer in time let the message through (a slow rule must not silence
 * everyone); the audit log and the server log say so, so the operator can fix the rule.
 */
async function reportUnchecked(deps: AutomodDeps, m: AutomodMessage, rules: CompiledRule[]) {
  const ruleIds = rules.map((r) => r.row.id);
  deps.log.warn({ rule_ids: ruleIds, user_id: m.author.userId }, 'automod regex rules not checked in time');
  await writeAudit(deps.db, {
    actor: AUTOMOD_ACTOR,
    action: 'automod.unchecked',
    targetType: 'user',
    targetId: m.author.userId,
    reason: 'Regex rules did not finish in time; the message was not checked against them',
    details: { rule_ids: ruleIds, context: m.context, length: m.text.length },
    channelId: m.channelId ?? null,
    roomId: m.roomId ?? null,
  });
}

async function audit(deps: AutomodDeps, m: AutomodMessage, t: Trigger, applied: AutomodAction) {
  await writeAudit(deps.db, {
    actor: AUTOMOD_ACTOR,
    action: 'automod.trigger',
    targetType: 'user',
    targetId: m.author.userId,
    reason: `Rule "${t.rule.row.name}": ${t.hit.what}`,
    details: {
      rule_id: t.rule.row.id,
      rule_name: t.rule.row.name,
      kind: t.rule.row.kind,
      rule_action: t.rule.row.action,
      applied,
      context: m.context,
      edit: Boolean(m.edit),
      ...(m.conversationId !== undefined && { conversation_id: m.conversationId }),
      ...t.hit.evidence,
    },
    channelId: m.channelId ?? null,
    roomId: m.roomId ?? null,
  });
}

/**
 * Checks a message about to be stored. Returns when it may be stored (no rule triggered, or only
 * warnings); throws the refusal otherwise. `onDelete` removes what an edit would have changed.
 */
export async function enforceAutomod(
  deps: AutomodDeps,
  m: AutomodMessage,
  opts: { onDelete?: () => Promise<unknown> } = {},
): Promise<void> {
  if (m.bypass || m.text.trim() === '') return;
  const triggers = await triggersOf(deps, m);
  if (triggers.length === 0) return;
  const strongest = triggers.reduce((a, b) =>
    SEVERITY[b.rule.row.action as AutomodAction] > SEVERITY[a.rule.row.action as AutomodAction] ? b : a,
  );
  const action = strongest.rule.row.action as AutomodAction;
  for (const t of triggers) await audit(deps, m, t, action);

  const what = strongest.hit.what;
  const reason = `Auto-moderation: ${what} (rule "${strongest.rule.row.name}")`;
  const target = {
    db: deps.db,
    bus: deps.bus,
    log: deps.log,
    actor: SYSTEM_ACTOR,
    username: m.author.username,
  };
  switch (action) {
    case 'warn':
      await warnUser({ ...target, reason });
      return;
    case 'block':
      throw new AppError('FORBIDDEN', `Your message was blocked by auto-moderation: ${what}`, {
        reason: 'automod',
      });
    case 'delete':
      await opts.onDelete?.();
      throw new AppError('FORBIDDEN', `Your message was deleted by auto-moderation: ${what}`, {
        reason: 'automod',
      });
    case 'timeout': {
      const minutes = strongest.rule.row.timeoutMinutes ?? AUTOMOD_LIMITS.TIMEOUT_DEFAULT_MINUTES;
      const { user } = await timeoutUser({ ...target, reason, minutes });
      throw new AppError('FORBIDDEN', `You were timed out by auto-moderation: ${what}`, {
        reason: 'automod',
        ...(user.state_expires_at && { expires_at: user.state_expires_at }),
      });
    }
  }
}
