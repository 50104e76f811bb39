import type { Bus } from '../../core/bus/types';
import { hmacHex } from '../../core/crypto';
import type { Db } from '../../db/client';
import type { NotifyLog } from '../notifications/notify';
import { type CompiledRule, compiledRules } from './cache';
import { floodKeyText, type Hit } from './detectors';
import { matchRegexRules } from './regex-runner';
import type { AutomodAction, AutomodContext } from './schemas';

// Which rules a message triggers: the rules that apply where it is sent, their content checks
// (regex rules on the worker thread), and the flood counters. enforce.ts decides what follows.

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

export const SEVERITY: Record<AutomodAction, number> = { warn: 0, block: 1, delete: 2, timeout: 3 };

export type Trigger = { rule: CompiledRule; hit: Hit };
type Scope = Pick<AutomodMessage, 'context' | 'channelId'>;

const appliesTo = (rule: CompiledRule, m: Scope) =>
  rule.row.contexts.includes(m.context) &&
  (m.context !== 'channel' || !rule.row.channelIds || rule.row.channelIds.includes(m.channelId ?? -1));

async function floodHit(deps: AutomodDeps, rule: CompiledRule, m: AutomodMessage): Promise<Hit | null> {
  const flood = rule.flood!;
  // Keyed by a keyed hash: the counter store (Redis) never sees message text.
  const digest = hmacHex(deps.secretKey, 'automod-flood', floodKeyText(m.text)).slice(0, 32);
  const key = `automod:flood:${rule.row.id}:${m.author.userId}:${digest}`;
  let allowed: boolean;
  try {
    ({ allowed } = await deps.bus.counters.slide(key, flood.maxRepeats, flood.windowMs));
  } catch (err) {
    // As for the rate limits: an unreachable counter store (Redis) lets chat through.
    deps.log.warn({ err, rule_id: rule.row.id }, 'automod flood counter unavailable');
    return null;
  }
  return allowed
    ? null
    : {
        what: 'the same message was sent too many times',
        evidence: { max_repeats: flood.maxRepeats, window_seconds: flood.windowMs / 1000 },
      };
}

export const applicableRules = async (deps: Omit<AutomodDeps, 'secretKey'>, m: Scope) =>
  (await compiledRules(deps)).filter((r) => appliesTo(r, m));

export const DEFAULT_REGEX_TIMEOUT_MS = 500;

/** Content rules: the cheap checks here, regex rules on the worker thread within the deadline. */
export async function contentTriggers(
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

/** Flood rules count this message and trigger once it is one repeat too many. */
export async function floodHits(deps: AutomodDeps, rules: CompiledRule[], m: AutomodMessage) {
  const found: Trigger[] = [];
  for (const rule of rules) {
    if (!rule.flood) continue;
    const hit = await floodHit(deps, rule, m);
    if (hit) found.push({ rule, hit });
  }
  return found;
}
