import { z } from 'zod';
import { regexProblem } from './regex';

// What an auto-moderation rule is (seed 002 "Auto-Moderation"): its kind with that kind's settings,
// the action taken when it triggers, and where it applies. The admin router validates rules with
// these schemas on the way in; the database keeps what passed.

export const AUTOMOD_KINDS = ['words', 'regex', 'links', 'invites', 'mentions', 'caps', 'flood'] as const;
export const AUTOMOD_ACTIONS = ['block', 'delete', 'timeout', 'warn'] as const;
export const AUTOMOD_CONTEXTS = ['channel', 'dm', 'room'] as const;

export type AutomodKind = (typeof AUTOMOD_KINDS)[number];
export type AutomodAction = (typeof AUTOMOD_ACTIONS)[number];
export type AutomodContext = (typeof AUTOMOD_CONTEXTS)[number];

export const AUTOMOD_LIMITS = {
  /** Rules in all (every enabled one is evaluated for every message). */
  RULES_MAX: 100,
  NAME_MAX: 100,
  WORDS_MAX: 500,
  WORD_MAX: 100,
  PATTERNS_MAX: 20,
  PATTERN_MAX: 300,
  DOMAINS_MAX: 200,
  TIMEOUT_DEFAULT_MINUTES: 10,
  TIMEOUT_MAX_MINUTES: 525_600,
} as const;

const ZHost = z
  .string()
  .trim()
  .toLowerCase()
  .max(253)
  .regex(/^(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z0-9-]{2,63}$/, {
    error: 'must be a host name such as example.com',
  });

/** `*` at either end of a word lifts the word boundary there (`spam*` also matches "spammer"). */
const ZWord = z
  .string()
  .trim()
  .min(1)
  .max(AUTOMOD_LIMITS.WORD_MAX)
  .refine((w) => /[\p{L}\p{N}]/u.test(w), { error: 'must contain a letter or digit' });

export const ZWordsConfig = z.strictObject({
  words: z.array(ZWord).min(1).max(AUTOMOD_LIMITS.WORDS_MAX),
});

export const ZRegexConfig = z
  .strictObject({
    patterns: z
      .array(z.string().min(1).max(AUTOMOD_LIMITS.PATTERN_MAX))
      .min(1)
      .max(AUTOMOD_LIMITS.PATTERNS_MAX),
    case_sensitive: z.boolean().default(false),
  })
  .superRefine((config, ctx) => {
    const problem = regexProblem(config.patterns, config.case_sensitive);
    if (problem) ctx.addIssue({ code: 'custom', message: problem, path: ['patterns'] });
  });

export const ZLinksConfig = z.strictObject({
  /** Links to these hosts (and their subdomains) pass. */
  allowed_domains: z.array(ZHost).max(AUTOMOD_LIMITS.DOMAINS_MAX).default([]),
});

export const ZInvitesConfig = z.strictObject({
  /** Hosts whose every link counts as an invite, besides the built-in list (automod/detectors.ts). */
  extra_hosts: z.array(ZHost).max(AUTOMOD_LIMITS.DOMAINS_MAX).default([]),
});

export const ZMentionsConfig = z.strictObject({
  /** More `@name` mentions than this in one message trigger the rule. */
  max_mentions: z.number().int().min(1).max(100).default(5),
});

export const ZCapsConfig = z.strictObject({
  /** Triggers when more than this share of the letters are capitals… */
  max_percent: z.number().int().min(1).max(99).default(70),
  /** …in a message with at least this many letters (short shouts like "OK" pass). */
  min_letters: z.number().int().min(1).max(4000).default(10),
});

export const ZFloodConfig = z.strictObject({
  /** The same text (ignoring case and spacing) more than this many times… */
  max_repeats: z.number().int().min(1).max(100).default(3),
  /** …within this many seconds, by one user, triggers the rule. */
  window_seconds: z.number().int().min(1).max(86_400).default(60),
});

export const CONFIG_SCHEMAS = {
  words: ZWordsConfig,
  regex: ZRegexConfig,
  links: ZLinksConfig,
  invites: ZInvitesConfig,
  mentions: ZMentionsConfig,
  caps: ZCapsConfig,
  flood: ZFloodConfig,
} as const satisfies Record<AutomodKind, z.ZodType>;

export type AutomodConfig<K extends AutomodKind> = z.output<(typeof CONFIG_SCHEMAS)[K]>;

const ruleFields = {
  name: z.string().trim().min(1).max(AUTOMOD_LIMITS.NAME_MAX),
  action: z.enum(AUTOMOD_ACTIONS),
  /** Only for `timeout`: how long the site timeout lasts. */
  timeout_minutes: z.number().int().min(1).max(AUTOMOD_LIMITS.TIMEOUT_MAX_MINUTES).nullish(),
  contexts: z
    .array(z.enum(AUTOMOD_CONTEXTS))
    .min(1)
    .max(3)
    .default([...AUTOMOD_CONTEXTS]),
  /** Limits the rule to these channels (null or absent: every channel). */
  channel_ids: z.array(z.number().int().positive().max(2_147_483_647)).min(1).max(100).nullish(),
  enabled: z.boolean().default(true),
};

/** A whole rule: `config` is checked against its `kind`. */
export const ZAutomodRule = z
  .discriminatedUnion('kind', [
    z.strictObject({ kind: z.literal('words'), config: ZWordsConfig, ...ruleFields }),
    z.strictObject({ kind: z.literal('regex'), config: ZRegexConfig, ...ruleFields }),
    z.strictObject({
      kind: z.literal('links'),
      config: ZLinksConfig.default({ allowed_domains: [] }),
      ...ruleFields,
    }),
    z.strictObject({
      kind: z.literal('invites'),
      config: ZInvitesConfig.default({ extra_hosts: [] }),
      ...ruleFields,
    }),
    z.strictObject({
      kind: z.literal('mentions'),
      config: ZMentionsConfig.default({ max_mentions: 5 }),
      ...ruleFields,
    }),
    z.strictObject({
      kind: z.literal('caps'),
      config: ZCapsConfig.default({ max_percent: 70, min_letters: 10 }),
      ...ruleFields,
    }),
    z.strictObject({
      kind: z.literal('flood'),
      config: ZFloodConfig.default({ max_repeats: 3, window_seconds: 60 }),
      ...ruleFields,
    }),
  ])
  .superRefine((rule, ctx) => {
    if (rule.timeout_minutes != null && rule.action !== 'timeout')
      ctx.addIssue({
        code: 'custom',
        message: 'timeout_minutes is only for the timeout action',
        path: ['timeout_minutes'],
      });
  });

export type AutomodRuleInput = z.input<typeof ZAutomodRule>;
export type AutomodRule = z.output<typeof ZAutomodRule>;

/** A change to a rule: any field but `kind` (a rule of another kind is a new rule). */
export const ZAutomodRulePatch = z.strictObject({
  name: ruleFields.name.optional(),
  action: ruleFields.action.optional(),
  timeout_minutes: ruleFields.timeout_minutes,
  contexts: z.array(z.enum(AUTOMOD_CONTEXTS)).min(1).max(3).optional(),
  channel_ids: ruleFields.channel_ids,
  enabled: z.boolean().optional(),
  config: z.record(z.string(), z.unknown()).optional(),
});
export type AutomodRulePatch = z.infer<typeof ZAutomodRulePatch>;
