import type { inferRouterOutputs } from '@trpc/server';
import type { Command } from 'commander';
import { AppError } from '../core/errors';
import type { AdminRouter } from '../routers/admin/router';
import { AUTOMOD_ACTIONS, AUTOMOD_CONTEXTS, AUTOMOD_KINDS } from '../services/automod/schemas';
import { type CommonOptions, type Execute, leaf, parseWholeNumber } from './command-kit';

// `automod …` (API.md §10): auto-moderation rules. Each kind's settings have their own options;
// `--config <json>` gives them all at once instead (docs/moderation.md lists them).

type Rule = inferRouterOutputs<AdminRouter>['automod']['get'];

type Opts = CommonOptions & {
  kind?: string;
  action?: string;
  timeoutMinutes?: number;
  contexts?: string;
  channels?: string;
  allChannels?: boolean;
  disabled?: boolean;
  enabled?: boolean;
  name?: string;
  config?: string;
  word?: string[];
  pattern?: string[];
  caseSensitive?: boolean;
  allowDomain?: string[];
  inviteHost?: string[];
  maxMentions?: number;
  maxPercent?: number;
  minLetters?: number;
  maxRepeats?: number;
  window?: number;
  text?: string;
  context?: string;
  channel?: number;
};

const collect = (value: string, previous: string[] = []) => [...previous, value];
const list = (value: string) =>
  value
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);

function parseJson(value: string): Record<string, unknown> {
  try {
    const parsed = JSON.parse(value) as unknown;
    if (parsed && typeof parsed === 'object' && !Array.isArray(parsed))
      return parsed as Record<string, unknown>;
  } catch {
    // Reported below.
  }
  throw new AppError('BAD_REQUEST', '--config must be a JSON object');
}

/** The kind's settings from its options; undefined when none was given. */
function configOf(o: Opts): Record<string, unknown> | undefined {
  const parts: Record<string, unknown> = {
    ...(o.word && { words: o.word.flatMap(list) }),
    ...(o.pattern && { patterns: o.pattern }),
    ...(o.caseSensitive && { case_sensitive: true }),
    ...(o.allowDomain && { allowed_domains: o.allowDomain.flatMap(list) }),
    ...(o.inviteHost && { extra_hosts: o.inviteHost.flatMap(list) }),
    ...(o.maxMentions !== undefined && { max_mentions: o.maxMentions }),
    ...(o.maxPercent !== undefined && { max_percent: o.maxPercent }),
    ...(o.minLetters !== undefined && { min_letters: o.minLetters }),
    ...(o.maxRepeats !== undefined && { max_repeats: o.maxRepeats }),
    ...(o.window !== undefined && { window_seconds: o.window }),
    ...(o.config && parseJson(o.config)),
  };
  return Object.keys(parts).length ? parts : undefined;
}

const channelIds = (value: string) =>
  list(value).map((id) => {
    if (!/^\d+$/.test(id))
      throw new AppError('BAD_REQUEST', '--channels must be channel ids separated by commas');
    return Number(id);
  });

const ruleOptions = (command: Command) =>
  command
    .option('--action <action>', AUTOMOD_ACTIONS.join(', '))
    .option(
      '--timeout-minutes <n>',
      'length of the site timeout (timeout action; default 10)',
      parseWholeNumber,
    )
    .option('--contexts <list>', `where it applies: ${AUTOMOD_CONTEXTS.join(',')} (default: all)`)
    .option('--channels <ids>', 'only these channel ids (comma-separated)')
    .option(
      '--word <words>',
      'words: blocked words or phrases, comma-separated; * at an end matches more',
      collect,
    )
    .option('--pattern <regex>', 'regex: a pattern in RE2 syntax (repeat for more)', collect)
    .option('--case-sensitive', 'regex: match case')
    .option('--allow-domain <domains>', 'links: domains whose links pass (comma-separated)', collect)
    .option('--invite-host <hosts>', 'invites: more invite hosts (comma-separated)', collect)
    .option('--max-mentions <n>', 'mentions: most mentions allowed in one message', parseWholeNumber)
    .option('--max-percent <n>', 'caps: most capital letters allowed, in percent', parseWholeNumber)
    .option('--min-letters <n>', 'caps: shorter messages are not checked', parseWholeNumber)
    .option('--max-repeats <n>', 'flood: most repeats of one message allowed in the window', parseWholeNumber)
    .option('--window <seconds>', 'flood: the window', parseWholeNumber)
    .option('--config <json>', "the kind's settings as one JSON object");

const describe = (r: Rule) =>
  `${r.id}\t${r.name}\t${r.kind} → ${r.action}${r.action === 'timeout' ? ` ${r.timeout_minutes} min` : ''}` +
  `\t${r.contexts.join(',')}${r.channel_ids ? ` channels ${r.channel_ids.join(',')}` : ''}` +
  `\t${r.enabled ? 'enabled' : 'disabled'}\t${JSON.stringify(r.config)}`;

export function registerAutomodCommands(program: Command, execute: Execute) {
  const automod = program.command('automod').description('Auto-moderation rules for chat, DMs and room chat');

  leaf(automod, 'list', 'List the rules').action((o: Opts) =>
    execute(
      o,
      (call) => call('automod', 'list', undefined),
      (r) => (r.rules.length === 0 ? 'No auto-moderation rules' : r.rules.map(describe).join('\n')),
    ),
  );

  ruleOptions(
    leaf(automod, 'add <name>', 'Add a rule')
      .requiredOption('--kind <kind>', AUTOMOD_KINDS.join(', '))
      .option('--disabled', 'add it switched off'),
  ).action((name: string, o: Opts) =>
    execute(
      o,
      (call) => {
        if (!o.action) throw new AppError('BAD_REQUEST', '--action is required');
        return call('automod', 'create', {
          name,
          kind: o.kind,
          action: o.action,
          config: configOf(o),
          timeout_minutes: o.timeoutMinutes,
          contexts: o.contexts ? list(o.contexts) : undefined,
          channel_ids: o.channels ? channelIds(o.channels) : undefined,
          enabled: !o.disabled,
        } as Parameters<typeof call<'automod', 'create'>>[2]);
      },
      (r) => `Added rule ${r.id}: ${describe(r)}`,
    ),
  );

  ruleOptions(
    leaf(automod, 'update', 'Change a rule (only the options given)')
      .argument('<id>', 'rule id', parseWholeNumber)
      .option('--name <name>', 'new name')
      .option('--all-channels', 'apply in every channel again')
      .option('--enabled', 'switch it on')
      .option('--disabled', 'switch it off'),
  ).action((id: number, o: Opts) =>
    execute(
      o,
      (call) => {
        if (o.enabled && o.disabled)
          throw new AppError('BAD_REQUEST', '--enabled and --disabled exclude each other');
        return call('automod', 'update', {
          id,
          name: o.name,
          action: o.action as Rule['action'] | undefined,
          config: configOf(o),
          timeout_minutes: o.timeoutMinutes,
          contexts: o.contexts ? (list(o.contexts) as Rule['contexts']) : undefined,
          channel_ids: o.allChannels ? null : o.channels ? channelIds(o.channels) : undefined,
          enabled: o.enabled ? true : o.disabled ? false : undefined,
        });
      },
      (r) => `Updated rule ${r.id}: ${describe(r)}`,
    ),
  );

  for (const [verb, enabled] of [
    ['enable', true],
    ['disable', false],
  ] as const) {
    leaf(automod, verb, `${enabled ? 'Switch on' : 'Switch off'} a rule`)
      .argument('<id>', 'rule id', parseWholeNumber)
      .action((id: number, o: Opts) =>
        execute(
          o,
          (call) => call('automod', 'update', { id, enabled }),
          (r) => `Rule ${r.id} (${r.name}) is ${r.enabled ? 'enabled' : 'disabled'}`,
        ),
      );
  }

  leaf(automod, 'delete', 'Delete a rule')
    .argument('<id>', 'rule id', parseWholeNumber)
    .action((id: number, o: Opts) =>
      execute(
        o,
        (call) => call('automod', 'delete', { id }),
        () => `Deleted rule ${id}`,
      ),
    );

  leaf(
    automod,
    'test',
    'Show which rules a message would trigger (nothing is recorded; flood rules need real messages)',
  )
    .requiredOption('--text <text>', 'the message')
    .option('--context <context>', `${AUTOMOD_CONTEXTS.join(', ')} (default channel)`)
    .option('--channel <id>', 'the channel, for rules limited to channels', parseWholeNumber)
    .action((o: Opts) =>
      execute(
        o,
        (call) =>
          call('automod', 'test', {
            text: o.text!,
            context: (o.context ?? 'channel') as (typeof AUTOMOD_CONTEXTS)[number],
            channel_id: o.channel,
          }),
        (r) =>
          r.action === null
            ? 'No rule triggers'
            : [
                `Action: ${r.action}`,
                ...r.triggered.map(
                  (t) => `  rule ${t.rule_id} ${t.name} (${t.kind} → ${t.action}): ${t.what}`,
                ),
              ].join('\n'),
      ),
    );
}
