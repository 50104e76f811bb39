import type { Bus } from '../../core/bus/types';
import { hmacHex } from '../../core/crypto';
import { AppError } from '../../core/errors';
import type { Db } from '../../db/client';
import { timeoutUser, warnUser } from '../admin/users';
import { writeAudit } from '../audit/audit';
import { SYSTEM_ACTOR } from '../auth/actor';
import type { NotifyLog } from '../notifications/notify';
import { type CompiledRule, compiledRules } from './cache';
import { floodKeyText, type Hit } from './detectors';
import { matchRegexRules } from './regex-runner';
import { AUTOMOD_LIMITS, type AutomodAction, type AutomodContext } from './schemas';

// Auto-moderation runs before a message is stored (seed 002): channel messages and edits, DMs and
// their edits, plain-text room messages. Every rule that triggers is written to the audit log; the
// strongest action among them is applied:
//   warn    the message goes through; the author gets a warning (punishment + `moderation` notice)
//   block   the message is refused with the reason, so its author can reword it
//   delete  the message is not stored (an edit removes the original message) and the author is told
//   timeout the message is not stored and the author is timed out site-wide (seed 003 state 1)
// Moderators+ are never checked: channel moderators in their channel, a room's owner and
// moderators in that room, Admins and Owners everywhere.

export type AutomodDeps = {
  db: Db;
  bus: Bus;
  log: NotifyLog;
  secretKey: Buffer;
  /** AUTOMOD_REGEX_TIMEOUT_MS (DEFAULT_REGEX_TIMEOUT_MS when absent). */
  env?: { AUTOMOD_REGEX_TIMEOUT_MS?: number };
};

export type AutomodMessage = {
  context: AutomodContext;
  author: { userId: number; username: string };
  bypass: boolean;
  channelId?: number;
  roomId?: number;
  conversationId?: number;
  text: string;
  /** Edits are checked like new messages but do not count towards a flood. */
  edit?: boolean;
};

const SEVERITY: Record<AutomodAction, number> = { warn: 0, block: 1, delete: 2, timeout: 3 };

/** The actor of automod's own audit entries. */
export const AUTOMOD_ACTOR = { userId: null, label: 'automod' } as const;

type Trigger = { rule: CompiledRule; hit: Hit };
type Scope = Pick<AutomodMessage, 'context' | 'channelId'>;

const appliesTo = (rule: CompiledRule, m: Scope) =>
  rule.row.contexts.includes(m.context) &&
  (m.context !== 'channel' || !rule.row.channelIds || rule.row.channelIds.includes(m.channelId ?? -1));

async function floodHit(deps: AutomodDeps, rule: CompiledRule, m: AutomodMessage): Promise<Hit | null> {
  const flood = rule.flood!;
  // Keyed by a keyed hash: the counter store (Redis) never sees message text.
  const digest = hmacHex(deps.secretKey, 'automod-flood', floodKeyText(m.text)).slice(0, 32);
  const key = `automod:flood:${rule.row.id}:${m.author.userId}:${digest}`;
  const { allowed } = await deps.bus.counters.slide(key, flood.maxRepeats, flood.windowMs);
  return allowed
    ? null
    : {
        what: 'the same message was sent too many times',
        evidence: { max_repeats: flood.maxRepeats, window_seconds: flood.windowMs / 1000 },
      };
}

const applicableRules = async (deps: Omit<AutomodDeps, 'secretKey'>, m: Scope) =>
  (await compiledRules(deps)).filter((r) => appliesTo(r, m));

export const DEFAULT_REGEX_TIMEOUT_MS = 500;

/** Content rules: the cheap checks here, regex rules on the worker thread within the deadline. */
async function contentTriggers(
  deps: Pick<AutomodDeps, 'env'>,
  rules: CompiledRule[],
  text: string,
): Promise<{ found: Trigger[]; unchecked: CompiledRule[] }> {
  const found: Trigger[] = [];
  for (const rule of rules) {
    const hit = rule.check?.(text);
    if (hit) found.push({ rule, hit });
  }
  const regexRules = rules.filter((r) => r.regex);
  const answer = await matchRegexRules(
    regexRules.map((r) => r.regex!),
    text,
    deps.env?.AUTOMOD_REGEX_TIMEOUT_MS ?? DEFAULT_REGEX_TIMEOUT_MS,
  );
  if (answer === 'timeout') return { found, unchecked: regexRules };
  for (const rule of regexRules) {
    const index = answer.hits.get(rule.regex!.key);
    if (index === undefined) continue;
    found.push({
      rule,
      hit: {
        what: 'it matches a blocked pattern',
        evidence: { pattern: rule.regex!.patterns[index] ?? null },
      },
    });
  }
  return { found, unchecked: regexRules.filter((r) => answer.failed.includes(r.regex!.key)) };
}

async function triggersOf(deps: AutomodDeps, m: AutomodMessage): Promise<Trigger[]> {
  const rules = await applicableRules(deps, m);
  const { found, unchecked } = await contentTriggers(deps, rules, m.text);
  if (unchecked.length) await reportUnchecked(deps, m, unchecked);
  if (m.edit) return found;
  for (const rule of rules) {
    if (!rule.flood) continue;
    const hit = await floodHit(deps, rule, m);
    if (hit) found.push({ rule, hit });
  }
  return found;
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

/** Which enabled rules `text` would trigger and what would happen, with no side effects. */
export async function previewAutomod(
  deps: Omit<AutomodDeps, 'secretKey'>,
  m: { context: AutomodContext; channelId?: number; text: string },
) {
  // Flood rules count real messages over time: a single text cannot trigger them.
  const { found: triggers, unchecked } = await contentTriggers(deps, await applicableRules(deps, m), m.text);
  const action = triggers.reduce<AutomodAction | null>((best, t) => {
    const a = t.rule.row.action as AutomodAction;
    return best === null || SEVERITY[a] > SEVERITY[best] ? a : best;
  }, null);
  return {
    action,
    triggered: triggers.map((t) => ({
      rule_id: t.rule.row.id,
      name: t.rule.row.name,
      kind: t.rule.row.kind,
      action: t.rule.row.action,
      what: t.hit.what,
      evidence: t.hit.evidence,
    })),
    unchecked_rule_ids: unchecked.map((r) => r.row.id),
  };
}
